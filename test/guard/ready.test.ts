/**
 * `guard.ready()` settles with a GuardError naming why the guard cannot get ready: wrong
 * credentials, a client not allowed to follow the feed, an unreachable issuer, a TLS
 * failure, no answer in time, an unusable JWKS. Against stub issuers on 127.0.0.1 (and a
 * port nobody listens on); the guard's clock is frozen, every wait is bounded by the
 * options given here, never a sleep. The same failures as whole processes (exit code,
 * what is printed): ready-process.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  createGuard,
  type Guard,
  type GuardOptions,
  isGuardError,
  REASONS,
} from "../../src/guard/index.js";
import { networkFailure } from "../../src/guard/ready.js";
import { NOT_A_FEED_FOLLOWER } from "../../src/shared/feed-followers.js";
import { CLIENT_ID, CLIENT_SECRET, fakeFeed, feedGuard, frozenClock } from "./feed-support.js";
import { AUDIENCE, ED, ISSUER } from "./support.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
const guards: Guard[] = [];
afterEach(async () => {
  for (const g of guards.splice(0)) g.close();
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** A stub issuer on 127.0.0.1; its base URL. */
async function stub(handler: Handler): Promise<string> {
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("close", () => {
    for (const s of sockets) s.destroy();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A guard on an inline key set following the feed at `feedUrl` (closed after the test). */
function guardOn(feedUrl: string, revocations: Record<string, unknown> = {}, more = {}): Guard {
  const guard = createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [ED.jwk] },
    clock: frozenClock(),
    introspection: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    revocations: { url: feedUrl, ...revocations },
    ...more,
  } as GuardOptions);
  guards.push(guard);
  return guard;
}

/** ready()'s rejection, checked to be a 503 GuardError that leaks nothing secret. */
async function readyFailure(guard: Guard) {
  const err = await guard.ready().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGuardError(err)) throw new Error(`ready() did not reject with a GuardError: ${err}`);
  expect(err.status).toBe(503);
  expect(err.code).toBe("store_unavailable");
  expect(err.message).toBe(err.description);
  expect(err.description.startsWith(REASONS[err.reason])).toBe(true);
  for (const text of [err.message, JSON.stringify(err), String(err.cause)]) {
    expect(text).not.toContain(CLIENT_SECRET);
    expect(text).not.toContain(Buffer.from(CLIENT_SECRET).toString("base64"));
  }
  return err;
}

/** An answer to the feed's request: a status and a JSON body. */
const answer =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

describe("ready(): the feed refuses the guard's client", () => {
  it("401: credentials_rejected, at once (not after readyTimeout), under either policy", async () => {
    for (const onStale of ["fail-closed", "accept"]) {
      const base = await stub(answer(401, { error: "invalid_client", message: "nope" }));
      // readyTimeout far beyond the test's timeout: only an immediate rejection passes.
      const guard = guardOn(`${base}/events/revocations`, { readyTimeout: 3600, onStale });
      const err = await readyFailure(guard);
      expect(err.reason).toBe("credentials_rejected");
      expect(err.message).toContain("introspection.clientSecret");
      expect(err.message).toContain(`(${base}/events/revocations)`);
      expect(guard.feedState().lastError).toBe(
        "the revocation feed refused the guard's client credentials (HTTP 401)",
      );
    }
  });

  it("Tessera's 401 for a client not registered with --introspect: client_not_allowed", async () => {
    const base = await stub(
      answer(401, { error: "invalid_client", error_description: NOT_A_FEED_FOLLOWER }),
    );
    const err = await readyFailure(guardOn(`${base}/events/revocations`, { readyTimeout: 3600 }));
    expect(err.reason).toBe("client_not_allowed");
    expect(err.message).toContain("--introspect");
  });

  it("403: client_not_allowed, at once", async () => {
    const base = await stub(answer(403, { error: "forbidden" }));
    const err = await readyFailure(guardOn(`${base}/events/revocations`, { readyTimeout: 3600 }));
    expect(err.reason).toBe("client_not_allowed");
  });

  it("a refusal seen before ready() is called: ready() rejects at once", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.refuse = { count: 1_000, status: 401 };
    const errors: Error[] = [];
    const guard = feedGuard(
      feed,
      clock,
      {},
      { readyTimeout: 3600, onError: (e: Error) => errors.push(e) },
    );
    await expect.poll(() => errors.length).toBeGreaterThan(0);
    expect((await readyFailure(guard)).reason).toBe("credentials_rejected");
  });
});

describe("ready(): the issuer cannot be reached or does not answer", () => {
  it("connection refused: issuer_unreachable after readyTimeout under fail-closed", async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/events/revocations`;
    const err = await readyFailure(guardOn(url, { readyTimeout: 0.2 }));
    expect(err.reason).toBe("issuer_unreachable");
    expect(err.message).toContain("ECONNREFUSED");
    expect(err.message).toContain(`(${url})`);
  });

  it('connection refused under "accept": resolves after readyTimeout', async () => {
    const port = await closedPort();
    const guard = guardOn(`http://127.0.0.1:${port}/events/revocations`, {
      readyTimeout: 0.2,
      onStale: "accept",
    });
    await expect(guard.ready()).resolves.toBeUndefined();
  });

  it("no answer at all (the request hangs): issuer_timeout", async () => {
    const base = await stub(() => {}); // never answers
    const err = await readyFailure(guardOn(`${base}/events/revocations`, { readyTimeout: 0.2 }));
    expect(err.reason).toBe("issuer_timeout");
  });

  it("a stream that never says synced: revocations_unavailable", async () => {
    const clock = frozenClock();
    const feed = await fakeFeed(clock);
    feed.withholdSynced = true;
    const guard = feedGuard(feed, clock, {}, { readyTimeout: 0.2 });
    const err = await readyFailure(guard);
    expect(err.reason).toBe("revocations_unavailable");
    expect(err.message).toContain("did not send synced in time");
  });

  it("another status (500): revocations_unavailable naming it", async () => {
    const base = await stub(answer(500, { error: "server_error" }));
    const err = await readyFailure(guardOn(`${base}/events/revocations`, { readyTimeout: 0.2 }));
    expect(err.reason).toBe("revocations_unavailable");
    expect(err.message).toContain("HTTP 500");
  });

  it("https to a port without TLS: issuer_tls_error, at once", async () => {
    const base = await stub(answer(200, {}));
    const url = `${base.replace("http:", "https:")}/events/revocations`;
    const err = await readyFailure(guardOn(url, { readyTimeout: 3600 }));
    expect(err.reason).toBe("issuer_tls_error");
  });

  it("close() while ready() waits: revocations_unavailable", async () => {
    const base = await stub(() => {});
    const guard = guardOn(`${base}/events/revocations`, { readyTimeout: 3600 });
    const pending = readyFailure(guard);
    guard.close();
    expect((await pending).reason).toBe("revocations_unavailable");
  });
});

describe("ready(): the JWKS", () => {
  const jwksGuard = (jwks: string, more: Partial<GuardOptions> = {}) => {
    const guard = createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks,
      clock: frozenClock(),
      revocations: false,
      ...more,
    });
    guards.push(guard);
    return guard;
  };

  it("unreachable: issuer_unreachable (fetch's TypeError is never what ready() throws)", async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}/.well-known/jwks.json`;
    const err = await readyFailure(jwksGuard(url));
    expect(err.reason).toBe("issuer_unreachable");
    expect(err.message).toContain("ECONNREFUSED");
    expect(err.message).toContain(`(${url})`);
  });

  it("a 404: jwks_unavailable naming the status", async () => {
    const base = await stub(answer(404, { error: "not_found" }));
    const err = await readyFailure(jwksGuard(`${base}/.well-known/jwks.json`));
    expect(err.reason).toBe("jwks_unavailable");
    expect(err.message).toContain("JWKS fetch answered HTTP 404");
  });

  it("no answer within jwksTimeout: issuer_timeout", async () => {
    const base = await stub(() => {});
    const err = await readyFailure(jwksGuard(`${base}/jwks`, { jwksTimeout: 100 }));
    expect(err.reason).toBe("issuer_timeout");
  });
});

describe("networkFailure: the network error behind fetch's TypeError", () => {
  const coded = (code: string) => Object.assign(new Error("x"), { code });

  it("finds the code in causes and in an AggregateError's errors", () => {
    const refused = new TypeError("fetch failed", {
      cause: new AggregateError([coded("ECONNREFUSED"), coded("ECONNREFUSED")]),
    });
    expect(networkFailure(refused)).toEqual({ reason: "issuer_unreachable", code: "ECONNREFUSED" });
    const dns = new TypeError("fetch failed", { cause: coded("ENOTFOUND") });
    expect(networkFailure(dns)?.reason).toBe("issuer_unreachable");
  });

  it("TLS: certificate verification codes, Node's TLS and SSL errors, EPROTO", () => {
    for (const code of [
      "DEPTH_ZERO_SELF_SIGNED_CERT",
      "SELF_SIGNED_CERT_IN_CHAIN",
      "CERT_HAS_EXPIRED",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "ERR_TLS_CERT_ALTNAME_INVALID",
      "ERR_SSL_WRONG_VERSION_NUMBER",
      "EPROTO",
    ]) {
      expect(networkFailure(new TypeError("fetch failed", { cause: coded(code) })), code).toEqual({
        reason: "issuer_tls_error",
        code,
      });
    }
  });

  it("timeouts by code or by name; anything else is not a network error", () => {
    expect(networkFailure(coded("UND_ERR_CONNECT_TIMEOUT"))?.reason).toBe("issuer_timeout");
    const aborted = Object.assign(new Error("timed out"), { name: "TimeoutError" });
    expect(networkFailure(aborted)).toEqual({ reason: "issuer_timeout", code: undefined });
    expect(networkFailure(new Error("JWKS fetch answered HTTP 404"))).toBeUndefined();
    expect(networkFailure("ECONNREFUSED")).toBeUndefined();
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(networkFailure(loop)).toBeUndefined();
  });
});
