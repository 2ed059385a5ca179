/**
 * Issue 16.2: a revocation-feed stream lives only as long as its client may follow the
 * feed as it did when the stream was opened. Removing the client, rotating its secret or
 * taking `introspect` away ends its open streams; `client` events never reach verifiers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { API, basic } from "../oauth/support.js";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
let base: string;
const secrets: Record<string, string> = {};
const streams: AbortController[] = [];

afterEach(async () => {
  for (const c of streams.splice(0)) c.abort();
  await s?.close();
});

async function setup() {
  s = await testServer();
  for (const id of ["rs", "rs2"]) {
    const added = await s.tessera.clients.add({
      id,
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      introspect: true,
    });
    secrets[id] = added.secret as string;
  }
  base = await s.app.listen({ port: 0, host: "127.0.0.1" });
}

/** Opens the feed as `clientId`; records the raw text and whether the stream ended. */
async function follow(clientId: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  streams.push(controller);
  const res = await fetch(`${base}/events/revocations`, {
    headers: { authorization: basic(clientId, secrets[clientId] as string), ...headers },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const state = { text: "", ended: false };
  const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        state.text += decoder.decode(value, { stream: true });
      }
    } catch {
      // aborted by the test
    }
    state.ended = true;
  })();
  const until = async (pred: () => boolean) => {
    for (let i = 0; i < 300 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    return pred();
  };
  expect(await until(() => state.text.includes("event: synced"))).toBe(true);
  return { state, until };
}

/** Lets the event loop run the log's listeners and the streams' re-checks. */
const settle = () => new Promise((r) => setTimeout(r, 50));

describe("the client's feed streams end when it may no longer follow the feed", () => {
  it("client remove ends them (and only them)", async () => {
    await setup();
    const mine = await follow("rs");
    const other = await follow("rs2");
    await s.tessera.removeClient("rs");
    expect(await mine.until(() => mine.state.ended)).toBe(true);
    await settle();
    expect(other.state.ended).toBe(false);
  });

  it("client rotate-secret ends them: they were opened with the old secret", async () => {
    await setup();
    const feed = await follow("rs");
    secrets.rs = await s.tessera.rotateClientSecret("rs");
    expect(await feed.until(() => feed.state.ended)).toBe(true);
    // The new secret opens a stream that stays.
    const fresh = await follow("rs");
    await settle();
    expect(fresh.state.ended).toBe(false);
  });

  it("an update ends them only when it takes `introspect` away", async () => {
    await setup();
    const feed = await follow("rs");
    await s.tessera.updateClient("rs", { scopes: ["read"], audience: [API, "https://b"] });
    await settle();
    expect(feed.state.ended).toBe(false);
    await s.tessera.updateClient("rs", { introspect: false });
    expect(await feed.until(() => feed.state.ended)).toBe(true);
  });

  it("a client removed and added again under the same id: the old stream ends, a new one stays", async () => {
    await setup();
    const old = await follow("rs");
    await s.tessera.clients.remove("rs"); // the registration only, then a new one
    const again = await s.tessera.clients.add({
      id: "rs",
      grants: ["client_credentials"],
      audience: [API],
      scopes: [],
      introspect: true,
    });
    secrets.rs = again.secret as string;
    const fresh = await follow("rs");
    await s.tessera.updateClient("rs", { scopes: ["x"] }); // any change re-checks
    expect(await old.until(() => old.state.ended)).toBe(true);
    await settle();
    expect(fresh.state.ended).toBe(false);
  });
});

describe("a change between the authentication and the start of the stream", () => {
  it("is not missed: the client is read again once the stream watches the log", async () => {
    await setup();
    const clients = s.tessera.clients;
    const authenticate = clients.authenticate.bind(clients);
    clients.authenticate = async (id, secret) => {
      const client = await authenticate(id, secret);
      // Its `client` event is written before the stream watches the log.
      if (id === "rs") await s.tessera.rotateClientSecret("rs");
      return client;
    };
    const res = await fetch(`${base}/events/revocations`, {
      headers: { authorization: basic("rs", secrets.rs as string) },
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_client");
  });
});

describe("`client` events are never sent to verifiers", () => {
  it("not live, not in a snapshot, not in a resumed backlog", async () => {
    await setup();
    const watcher = await follow("rs2");
    const firstId = /id: (\S+)/.exec(watcher.state.text)?.[1] as string;
    await s.tessera.updateClient("rs", { scopes: ["x"] });
    await s.tessera.removeClient("rs");
    // The removal's subject cutoff for "rs" is a revocation and is sent.
    expect(await watcher.until(() => watcher.state.text.includes('"sub":"rs"'))).toBe(true);
    const log = await s.tessera.stores.ephemeral.revocations.snapshot();
    expect(log.events.filter((e) => e.event.type === "client")).toHaveLength(2);

    const snapshot = await follow("rs2");
    const resumed = await follow("rs2", { "last-event-id": firstId });
    await settle();
    for (const text of [watcher.state.text, snapshot.state.text, resumed.state.text]) {
      expect(text).not.toContain('"type":"client"');
      expect(text).not.toContain('"clientId"');
      expect(text).not.toMatch(/^event: (?!snapshot|revoke|synced|heartbeat)/m);
    }
    expect(resumed.state.text).toContain('"sub":"rs"');
    // A new stream gets it in its snapshot, or (a snapshot shared from before the removal)
    // as a `revoke` event right after it.
    expect(snapshot.state.text).toMatch(/\["rs",|"sub":"rs"/);
  });
});
