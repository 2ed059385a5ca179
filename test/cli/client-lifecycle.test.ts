/**
 * Issue 16.2 with real processes: `tessera client remove` and `tessera client update` run
 * by the CLI beside a running server on the same --data (SQLite), an API process whose
 * guard follows the server's revocation feed, and a raw feed stream.
 *
 * remove: the client's opaque token introspects inactive, its JWTs (a user's, by jti; its
 * own client_credentials token, by a subject cutoff) are refused by the API, its users'
 * refresh tokens do not refresh — not even for a client added again under the same id with
 * fewer scopes —, its consents are gone (the re-added client gets the consent page), and
 * its open feed stream ends.
 * update: a refresh returns the narrowed scopes, the remembered consent is narrowed (a
 * scope given back asks again), a removed redirect URI refuses a pending code, and the
 * access tokens issued before the narrowing are refused by the API.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Api, startApi, status, stopAllApis } from "../e2e/support/api-process.js";
import {
  http,
  loginToken,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

const ISSUER = "http://auth.tessera.test";
const AUDIENCE = "https://api.example.com";
const CB = "https://app.example.com/cb";
const CB2 = "https://app.example.com/cb2";
const PASSWORD = "Velvet-Harbor-Quince-73";

const secretOf = (out: string) => /client_secret: (\S+)/.exec(out)?.[1] as string;
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

let data: string;
let server: ServerProcess;
let api: Api;
let session: string;
const secrets: Record<string, string> = {};

async function cli(...args: string[]) {
  return runCli([...args, "--data", data, "--issuer", ISSUER]);
}

async function addClient(id: string, ...flags: string[]) {
  const out = await cli("client", "add", id, ...flags);
  expect(out.code, out.stderr).toBe(0);
  const secret = secretOf(out.stdout);
  if (secret !== undefined) secrets[id] = secret;
}

const userClient = (id: string, format: "jwt" | "opaque", scopes = "read write") =>
  addClient(
    id,
    "--grants",
    "authorization_code,refresh_token",
    "--audience",
    AUDIENCE,
    "--scopes",
    scopes,
    "--token-format",
    format,
    "--redirect-uri",
    `${CB},${CB2}`,
  );

beforeAll(async () => {
  data = tempDataDir();
  const added = await runCli(
    ["user", "add", "alice", "--password-stdin", "--init", "--data", data, "--issuer", ISSUER],
    { stdin: `${PASSWORD}\n` },
  );
  expect(added.code, added.stderr).toBe(0);
  await userClient("app", "jwt");
  await userClient("oapp", "opaque");
  await userClient("upd", "jwt");
  await addClient("svc", "--grants", "client_credentials", "--audience", AUDIENCE);
  for (const id of ["rs", "feeder"]) {
    await addClient(id, "--grants", "client_credentials", "--audience", AUDIENCE, "--introspect");
  }
  server = await startServer(["--data", data, "--issuer", ISSUER]);
  api = await startApi({
    issuer: ISSUER,
    audience: AUDIENCE,
    tessera: server.url,
    clientId: "rs",
    secret: secrets.rs as string,
  });
  session = await loginToken(server.url, "alice", PASSWORD);
}, 60_000);

afterAll(async () => {
  stopAllApis();
  await stopAllServers();
  removeTempDirs();
});

async function form(path: string, clientId: string, body: Record<string, string>) {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: basic(clientId, secrets[clientId] as string),
    },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

/** GET /oauth/authorize as alice's browser: a code at once, or the consent page. */
async function authorize(clientId: string, redirectUri: string, scope: string) {
  const verifier = randomBytes(32).toString("base64url");
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state: "s",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  });
  const res = await fetch(`${server.url}/oauth/authorize?${query}`, {
    headers: { cookie: `__Host-session=${session}` },
    redirect: "manual",
  });
  const body = await res.text();
  const interaction = /name="interaction" value="([^"]*)"/.exec(body)?.[1];
  return { status: res.status, location: res.headers.get("location"), interaction, verifier };
}

/** A code for alice, approving the consent page when it is shown. */
async function codeFor(clientId: string, redirectUri = CB, scope = "read write") {
  const first = await authorize(clientId, redirectUri, scope);
  let location = first.location;
  if (first.interaction !== undefined) {
    const decided = await fetch(`${server.url}/oauth/authorize/decision`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        cookie: `__Host-session=${session}`,
      },
      body: new URLSearchParams({ interaction: first.interaction, decision: "approve" }),
      redirect: "manual",
    });
    location = decided.headers.get("location");
  }
  const code = new URL(location as string).searchParams.get("code") as string;
  expect(code).toBeTruthy();
  return { code, verifier: first.verifier, redirectUri };
}

function exchange(clientId: string, c: { code: string; verifier: string; redirectUri: string }) {
  return form("/oauth/token", clientId, {
    grant_type: "authorization_code",
    code: c.code,
    redirect_uri: c.redirectUri,
    code_verifier: c.verifier,
  });
}

async function tokensFor(clientId: string) {
  const res = await exchange(clientId, await codeFor(clientId));
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { access_token: string; refresh_token: string; scope: string };
}

/** Until the API refuses `token` (bounded): the feed carries the revocation. */
async function refusedByApi(token: string): Promise<number> {
  const deadline = performance.now() + 10_000;
  let last = await status(api, token);
  while (last === 200 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    last = await status(api, token);
  }
  return last;
}

/** Opens the feed as `clientId` and reports when the stream ends. */
async function openFeed(clientId: string) {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/events/revocations`, {
    headers: { authorization: basic(clientId, secrets[clientId] as string) },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  const ended = (async () => {
    try {
      while (!(await reader.read()).done) {}
      return true;
    } catch {
      return false;
    }
  })();
  return {
    /** True when the server ended the stream within `ms`. */
    endsWithin: (ms: number) =>
      Promise.race([ended, new Promise<boolean>((r) => setTimeout(() => r(false), ms))]),
    abort: () => controller.abort(),
  };
}

// Each consequence is checked with expect.soft: on the code before the fix, every one of
// them is reported, not only the first.
describe("tessera client remove beside a running server", () => {
  it("ends every grant of the client; the same id added again inherits nothing", async () => {
    const jwt = await tokensFor("app");
    const opaque = await tokensFor("oapp");
    const service = await form("/oauth/token", "svc", { grant_type: "client_credentials" });
    expect(service.status).toBe(200);
    expect(await status(api, jwt.access_token)).toBe(200);
    expect(await status(api, service.body.access_token as string)).toBe(200);
    expect(
      (await form("/oauth/introspect", "rs", { token: opaque.access_token })).body,
    ).toMatchObject({ active: true });
    const feed = await openFeed("feeder");

    for (const id of ["app", "oapp", "svc", "feeder"]) {
      const removed = await cli("client", "remove", id);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stdout).toMatch(new RegExp(`^removed client ${id}`));
    }

    // Its opaque access token: inactive at once (the record is gone).
    expect
      .soft((await form("/oauth/introspect", "rs", { token: opaque.access_token })).body)
      .toEqual({
        active: false,
      });
    // JWTs: refused by the API following the feed — the user's by jti, the service's own
    // client_credentials token by the subject cutoff for its client id.
    expect.soft(await refusedByApi(jwt.access_token)).toBe(401);
    expect.soft(await refusedByApi(service.body.access_token as string)).toBe(401);
    // Its open feed stream ends (the server learns of the CLI's removal from the log).
    expect.soft(await feed.endsWithin(5000)).toBe(true);
    feed.abort();

    // Added again under the same id, with fewer scopes and another redirect URI.
    await userClient("app", "jwt", "read");
    await userClient("oapp", "opaque", "read");
    for (const [id, refreshToken] of [
      ["app", jwt.refresh_token],
      ["oapp", opaque.refresh_token],
    ] as const) {
      const refreshed = await form("/oauth/token", id, {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
      });
      expect.soft(refreshed.status, JSON.stringify(refreshed.body)).toBe(400);
      expect.soft(refreshed.body.error).toBe("invalid_grant");
    }
    // The consent given to the removed client is gone: the new one asks.
    const consents = await http(server.url, "GET", "/consents", { token: session });
    expect.soft((consents.body as { consents: Array<{ clientId: string }> }).consents).toEqual([]);
    const asked = await authorize("app", CB2, "read");
    expect.soft(asked.status).toBe(200);
    expect.soft(asked.interaction).toBeDefined();
  }, 60_000);
});

describe("tessera client update beside a running server", () => {
  it("narrowing takes effect on refresh tokens, consents, pending codes and access tokens", async () => {
    const tokens = await tokensFor("upd");
    expect(tokens.scope).toBe("read write");
    const pending = await codeFor("upd", CB2);

    const updated = await cli("client", "update", "upd", "--scopes", "read", "--redirect-uri", CB);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout).toBe(
      `upd\tconfidential\tauthorization_code,refresh_token\tjwt\taud=${AUDIENCE}\tscopes=read\tttl=default\tredirect=${CB}\n`,
    );

    // A refresh returns the narrowed scopes.
    const refreshed = await form("/oauth/token", "upd", {
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
    });
    expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);
    expect(refreshed.body.scope).toBe("read");
    // The access token issued before the narrowing is refused; the new one is accepted.
    expect(await refusedByApi(tokens.access_token)).toBe(401);
    expect(await status(api, refreshed.body.access_token as string)).toBe(200);
    // The remembered consent is narrowed.
    const consents = await http(server.url, "GET", "/consents", { token: session });
    expect(
      (consents.body as { consents: Array<{ clientId: string; scopes: string[] }> }).consents,
    ).toEqual([expect.objectContaining({ clientId: "upd", scopes: ["read"] })]);
    // The removed redirect URI refuses the code issued for it.
    const exchanged = await exchange("upd", pending);
    expect(exchanged.status).toBe(400);
    expect(exchanged.body.error).toBe("invalid_grant");

    // Widening revokes nothing, but the scope given back needs the user's consent again.
    const widened = await cli("client", "update", "upd", "--scopes", "read write");
    expect(widened.code, widened.stderr).toBe(0);
    expect(await status(api, refreshed.body.access_token as string)).toBe(200);
    expect((await authorize("upd", CB, "read")).status).toBe(303);
    expect((await authorize("upd", CB, "read write")).interaction).toBeDefined();
  }, 60_000);

  it("checks what it is given as client add does, with exit 2", async () => {
    const cases: string[][] = [
      ["client", "update", "upd"],
      ["client", "update", "nobody", "--scopes", "read"],
      ["client", "update", "upd", "--grants", "password"],
      ["client", "update", "upd", "--redirect-uri", "http://evil.example/cb"],
      ["client", "update", "upd", "--access-ttl", "999999"],
      ["client", "update", "upd", "--introspect", "--no-introspect"],
      ["client", "update", "upd", "--public"],
    ];
    for (const args of cases) {
      const res = await cli(...args);
      expect(res.code, args.join(" ")).toBe(2);
      // Refused before the store is opened, or after the line saying which data it opened.
      expect(res.stderr, args.join(" ")).toMatch(
        /^(tessera: using data in .+\n)?tessera: .+\((invalid_request|client_not_found)\)\n$/,
      );
    }
    const ttl = await cli("client", "update", "upd", "--access-ttl", "120", "--introspect");
    expect(ttl.stdout).toMatch(/\tttl=120\tintrospect\t/);
    const back = await cli("client", "update", "upd", "--access-ttl", "default", "--no-introspect");
    expect(back.stdout).toMatch(/\tttl=default\tredirect=/);
  }, 60_000);
});
