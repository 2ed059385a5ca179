/**
 * Issue 8: change the password, then at once run the code flow again — with real
 * processes: `tessera serve` (SQLite), clients and the user made by the CLI, and an API
 * process whose guard follows the server's revocation feed. The new opaque token must
 * introspect active and the JWT minted by the first refresh after the change must be
 * accepted by the API; a JWT minted before the change must be refused there.
 *
 * The old bug needs the new tokens to be minted in the same second as the change, so each
 * try starts right after a wall-clock second begins (server and test share the machine's
 * clock) and records whether its flow stayed within that second.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clientSecretOf,
  http,
  loginToken,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { type Api, startApi, status, stopAllApis } from "./support/api-process.js";

const ISSUER = "http://auth.tessera.test";
const AUDIENCE = "https://api.example.com";
const REDIRECT = "https://app.example.com/callback";
const PASSWORD = "Velvet-Harbor-Quince-73";

/** The password after n changes. */
const passwordAfter = (n: number) => (n === 0 ? PASSWORD : `${PASSWORD}-${n}`);
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

let server: ServerProcess;
let api: Api;
const secrets: Record<string, string> = {};

beforeAll(async () => {
  const data = tempDataDir();
  const args = ["--data", data, "--issuer", ISSUER];
  const added = await runCli(["user", "add", "alice", "--password-stdin", "--init", ...args], {
    stdin: `${PASSWORD}\n`,
  });
  expect(added.code, added.stderr).toBe(0);
  for (const [id, format] of [
    ["app", "jwt"],
    ["opaque-app", "opaque"],
  ] as const) {
    const out = await runCli([
      "client",
      "add",
      id,
      "--grants",
      "authorization_code,refresh_token",
      "--audience",
      AUDIENCE,
      "--scopes",
      "read",
      "--token-format",
      format,
      "--redirect-uri",
      REDIRECT,
      "--first-party",
      ...args,
    ]);
    expect(out.code, out.stderr).toBe(0);
    secrets[id] = clientSecretOf(out.stdout);
  }
  const rs = await runCli([
    "client",
    "add",
    "rs",
    "--grants",
    "client_credentials",
    "--audience",
    AUDIENCE,
    "--introspect",
    ...args,
  ]);
  expect(rs.code, rs.stderr).toBe(0);
  secrets.rs = clientSecretOf(rs.stdout);
  server = await startServer(args);
  api = await startApi({
    issuer: ISSUER,
    audience: AUDIENCE,
    tessera: server.url,
    clientId: "rs",
    secret: secrets.rs as string,
  });
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
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The front channel as a signed-in browser runs it, then the code exchange. */
async function codeFlow(session: string, clientId: string) {
  const verifier = randomBytes(32).toString("base64url");
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: "read",
    state: "s",
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
  });
  const res = await fetch(`${server.url}/oauth/authorize?${query}`, {
    headers: { cookie: `__Host-session=${session}` },
    redirect: "manual",
  });
  expect(res.status).toBe(303);
  const code = new URL(res.headers.get("location") as string).searchParams.get("code");
  const tokens = await form("/oauth/token", clientId, {
    grant_type: "authorization_code",
    code: code as string,
    redirect_uri: REDIRECT,
    code_verifier: verifier,
  });
  expect(tokens.status, JSON.stringify(tokens.body)).toBe(200);
  return tokens.body as { access_token: string; refresh_token: string };
}

/** Until the API refuses `token` (the feed's events arrive in order), bounded. */
async function refusedByApi(token: string): Promise<void> {
  const deadline = performance.now() + 10_000;
  while ((await status(api, token)) !== 401) {
    if (performance.now() > deadline) throw new Error("the API still accepts the old token");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves just after the machine's clock starts a new second. */
function nextSecond(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1005 - (Date.now() % 1000)));
}

/**
 * One try, as the n-th password change: returns the new session, and whether everything
 * after the change happened within the change's second.
 */
async function changeThenCodeFlow(
  session: string,
  n: number,
): Promise<{ session: string; sameSecond: boolean }> {
  const old = await codeFlow(session, "app");
  expect(await status(api, old.access_token)).toBe(200);

  await nextSecond();
  const start = Date.now();
  const changed = await http(server.url, "POST", "/password", {
    token: session,
    json: { currentPassword: passwordAfter(n), newPassword: passwordAfter(n + 1) },
  });
  expect(changed.status, JSON.stringify(changed.body)).toBe(200);
  const fresh = changed.setSession as string;
  const opaque = await codeFlow(fresh, "opaque-app");
  const jwt = await codeFlow(fresh, "app");
  const refreshed = await form("/oauth/token", "app", {
    grant_type: "refresh_token",
    refresh_token: jwt.refresh_token,
  });
  const end = Date.now();
  expect(refreshed.status, JSON.stringify(refreshed.body)).toBe(200);

  const introspected = await form("/oauth/introspect", "rs", { token: opaque.access_token });
  expect(introspected.body).toMatchObject({ active: true });
  // The subject cutoff precedes the old family's revocation on the feed: once the old JWT
  // is refused, the API knows the cutoff too.
  await refusedByApi(old.access_token);
  expect(await status(api, refreshed.body.access_token as string)).toBe(200);
  expect(await status(api, jwt.access_token)).toBe(200);
  expect(await status(api, opaque.access_token)).toBe(200);
  return { session: fresh, sameSecond: Math.floor(start / 1000) === Math.floor(end / 1000) };
}

describe("a password change, then at once the code flow again (real processes)", () => {
  it("the new tokens live, at the introspection endpoint and at an API following the feed; the old JWT dies", async () => {
    let session = await loginToken(server.url, "alice", PASSWORD);
    let sameSecond = false;
    for (let n = 0; n < 3 && !sameSecond; n++) {
      ({ session, sameSecond } = await changeThenCodeFlow(session, n));
    }
    if (!sameSecond) {
      // Not a failure (no wall-clock assertion), but this run did not reach the old bug.
      process.stdout.write("user-cutoff e2e: no try stayed within the change's second\n");
    }
  }, 60_000);
});
