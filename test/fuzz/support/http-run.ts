/**
 * The HTTP fuzzer's runner: a server on a given store, fresh real fixtures per case, the
 * request sent through `inject`, and the checks:
 *
 * - the answer: never a 5xx; a documented status; every 4xx names a stable error code
 *   (src/errors.ts, or an RFC 6749 / OpenID Connect registry value) in its JSON `error` or
 *   its HTML page's `<code>`; no hang (the request must end within HANG_MS of real time;
 *   a frozen clock that something sleeps on, the introspection tarpit, is moved on);
 * - the store: a refused request created no session and no live refresh family, a 2xx at
 *   most one; no refresh family ever has two live tokens; users and clients only as made here.
 */
import { createHash, randomBytes } from "node:crypto";
import { expect } from "vitest";
import { ERROR_STATUS } from "../../../src/errors.js";
import type { Tessera } from "../../../src/tessera.js";
import { PASSWORD, type TestServer, testServer } from "../../support/harness.js";
import { runProperty } from "./budget.js";
import {
  basic,
  builderFor,
  type Fixtures,
  formValue,
  type HttpCase,
  httpCase,
  mutate,
  payloadOf,
  type Req,
  routesOf,
} from "./http-cases.js";
import { sendWire, type WireTwist, wireBytes } from "./wire.js";

/** What a store kind lets the fuzzer count (refresh families are in the durable store). */
export interface StoreProbe {
  /** Live (unrevoked) refresh families, and those with more than one live token. */
  families(now: number): Promise<{ count: number; doubleLive: string[] }>;
}

export interface FuzzTarget {
  name: string;
  open(): Promise<{ server: TestServer; probe: StoreProbe; close(): Promise<void> }>;
}

const REDIRECT = "https://app.example.com/callback";
const POST_LOGOUT = "https://app.example.com/bye";
const API = "https://api.example.com";
/** Real time a request may take before it counts as a hang. */
const HANG_MS = 10_000;
/** `TESSERA_FUZZ_STATS=1`: print how often each route answered each status. */
const STATS = process.env.TESSERA_FUZZ_STATS === "1" ? new Map<string, number>() : undefined;

/** OAuth 2.0 / OpenID Connect registry values the endpoints answer besides our codes. */
const OAUTH_ERRORS = [
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "unsupported_token_type",
  "unsupported_response_type",
  "access_denied",
  "temporarily_unavailable",
  "login_required",
  "consent_required",
  "interaction_required",
  "account_selection_required",
  "invalid_request_uri",
  "invalid_request_object",
  "request_not_supported",
  "request_uri_not_supported",
  "registration_not_supported",
  "invalid_token",
  "insufficient_scope",
];
export const KNOWN_ERRORS = new Set<string>([
  ...Object.keys(ERROR_STATUS).filter((c) => ERROR_STATUS[c as keyof typeof ERROR_STATUS] < 500),
  ...OAUTH_ERRORS,
]);
/** Statuses the README and DESIGN.md document for these endpoints. */
export const DOCUMENTED_STATUS = new Set([
  200, 204, 303, 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 429, 431,
]);

const sha256 = (s: string) => createHash("sha256").update(s).digest("base64url");

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: sha256(verifier) };
}

async function setUp(s: TestServer) {
  const t = s.tessera;
  const conf = await t.clients.add({
    id: "conf",
    grants: ["authorization_code", "refresh_token", "client_credentials"],
    audience: [API],
    scopes: ["read", "write"],
    redirectUris: [REDIRECT],
    introspect: true,
    firstParty: true,
  });
  const opq = await t.clients.add({
    id: "opq",
    grants: ["client_credentials"],
    tokenFormat: "opaque",
    audience: [API],
    scopes: ["read"],
  });
  await t.clients.add({
    id: "pub",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [REDIRECT],
    public: true,
  });
  const rp = await t.clients.add({
    id: "rp",
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["openid", "read"],
    redirectUris: [REDIRECT],
    oidc: true,
    firstParty: true,
    postLogoutRedirectUris: [POST_LOGOUT],
  });
  return {
    conf: { id: "conf", secret: conf.secret as string },
    opq: { id: "opq", secret: opq.secret as string },
    rp: { id: "rp", secret: rp.secret as string },
  };
}

type Secrets = Awaited<ReturnType<typeof setUp>>;

/** The fixtures of one case: every credential made fresh, on demand. */
function fixtures(t: Tessera, secrets: Secrets, state: { password: string }): Fixtures {
  const alice = () => t.users.require("alice");
  const newSession = async () => (await t.sessions.create(await alice())).token;
  let session: string | undefined;
  const code = async (client: "conf" | "pub" | "rp", scope?: string[]) => {
    const { verifier, challenge } = pkce();
    const user = await alice();
    const c = await t.clients.find(client);
    const wanted = scope ?? (client === "rp" ? ["openid", "read"] : ["read"]);
    if (c !== undefined && !c.firstParty) {
      await t.consents.putConsent({
        userId: user.id,
        clientId: client,
        scopes: wanted,
        grantedAt: Date.now(),
        clientGeneration: c.generation,
      });
    }
    const issued = await t.codes.issue({
      clientId: client,
      userId: user.id,
      redirectUri: REDIRECT,
      codeChallenge: challenge,
      scope: wanted,
      authTime: Date.now(),
      ...(client === "rp" ? { nonce: "n-0" } : {}),
    });
    return { code: issued, verifier, challenge };
  };
  const exchange = async (client: "conf" | "rp") => {
    const { code: c, verifier } = await code(client);
    const secret = client === "conf" ? secrets.conf.secret : secrets.rp.secret;
    const r = await t.oauth.token(basic(client, secret), {
      grant_type: "authorization_code",
      code: c,
      code_verifier: verifier,
      redirect_uri: REDIRECT,
    });
    return r.body as { access_token: string; refresh_token: string };
  };
  return {
    origin: t.config.issuer,
    async session() {
      session ??= await newSession();
      return session;
    },
    conf: secrets.conf,
    pub: { id: "pub" },
    rp: secrets.rp,
    redirectUri: REDIRECT,
    postLogoutUri: POST_LOGOUT,
    code,
    refreshToken: async () => (await exchange("conf")).refresh_token,
    userAccessToken: async () => (await exchange("rp")).access_token,
    async clientAccessToken(format) {
      const c = format === "jwt" ? secrets.conf : secrets.opq;
      const r = await t.oauth.token(basic(c.id, c.secret), { grant_type: "client_credentials" });
      return (r.body as { access_token: string }).access_token;
    },
    async sessionPublicId() {
      await newSession();
      const list = await t.sessions.list((await alice()).id);
      return list[list.length - 1]?.session.id ?? "none";
    },
    async interaction(sessionToken) {
      const resolved = await t.sessions.resolve(sessionToken);
      const v = await t.authorization.validate({
        response_type: "code",
        client_id: "pub",
        redirect_uri: REDIRECT,
        state: "s",
        code_challenge: pkce().challenge,
        code_challenge_method: "S256",
        scope: "read",
      });
      if (resolved === undefined || v.kind !== "ok") return "tsr_forged";
      // Consent not yet given, so that the request asks for it.
      await t.consents.deleteConsent(resolved.user.id, "pub");
      const next = await t.authorization.proceed(
        {
          userId: resolved.user.id,
          sessionKey: resolved.key,
          authTime: resolved.session.createdAt,
          sessionId: resolved.session.id,
        },
        v.client,
        v.request,
      );
      return next.kind === "consent" ? next.interactionId : "tsr_forged";
    },
    password: state.password,
    username: "alice",
  };
}

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/** Sends `req` through inject(); reads only the head of an event stream (then ends the streams). */
function injected(s: TestServer, req: Req, signal: AbortSignal): Promise<Answer> {
  const payload = payloadOf(req);
  return s.app
    .inject({
      method: req.method as "GET",
      url: req.url,
      headers: req.headers,
      ...(payload === undefined ? {} : { payload }),
      payloadAsStream: true,
      signal,
    })
    .then(async (res) => {
      const type = String(res.headers["content-type"] ?? "");
      if (type.startsWith("text/event-stream")) {
        s.tessera.revocationStreams.endAll();
        return { status: res.statusCode, headers: res.headers, body: "" };
      }
      const chunks: Buffer[] = [];
      for await (const c of res.stream()) chunks.push(Buffer.from(c as Uint8Array));
      return {
        status: res.statusCode,
        headers: res.headers,
        body: Buffer.concat(chunks).toString(),
      };
    });
}

/** Where the server listens, for the wire transport (started on first use). */
const listening = new WeakMap<TestServer, Promise<string>>();

async function wired(s: TestServer, req: Req, twist: WireTwist): Promise<Answer> {
  let base = listening.get(s);
  if (base === undefined) {
    base = s.app.listen({ port: 0, host: "127.0.0.1" });
    listening.set(s, base);
  }
  const url = new URL(await base);
  const a = await sendWire(url.href, wireBytes(req, twist, url.host), HANG_MS);
  if (String(a.headers["content-type"] ?? "").startsWith("text/event-stream")) {
    s.tessera.revocationStreams.endAll();
    return { ...a, body: "" };
  }
  return a;
}

/**
 * Sends `req` (through inject(), or on the wire with a twist) and waits for the answer:
 * a hang fails. The introspection tarpit waits on the frozen clock: it is moved on.
 */
async function send(s: TestServer, req: Req, twist: WireTwist | undefined): Promise<Answer> {
  const controller = new AbortController();
  const pending = twist === undefined ? injected(s, req, controller.signal) : wired(s, req, twist);
  const started = Date.now();
  let done = false;
  let answer: Answer | undefined;
  let failure: unknown;
  const settled = pending.then(
    (a) => {
      answer = a;
      done = true;
    },
    (e) => {
      failure = e;
      done = true;
    },
  );
  while (!done) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((r) => (timer = setTimeout(r, 5)))]);
    clearTimeout(timer);
    if (done) break;
    if (s.clock.sleeping > 0) s.clock.advance(60_000);
    if (Date.now() - started > HANG_MS + 1_000) {
      controller.abort();
      throw new Error(`hang: no answer within ${HANG_MS} ms`);
    }
  }
  controller.abort();
  if (failure !== undefined) throw failure;
  return answer as Answer;
}

function checkAnswer(req: Req, a: Answer): void {
  const shown = a.body.includes("<main>")
    ? a.body.slice(a.body.indexOf("<main>"), a.body.indexOf("<main>") + 600)
    : a.body.slice(0, 300);
  const what = `${req.method} ${req.url.slice(0, 200)} → ${a.status} ${shown}`;
  expect(a.status, what).toBeLessThan(500);
  expect(DOCUMENTED_STATUS.has(a.status), `undocumented status: ${what}`).toBe(true);
  if (a.status < 400 || req.method === "HEAD") return;
  const type = String(a.headers["content-type"] ?? "");
  let code: string | undefined;
  if (type.startsWith("application/json")) {
    code = (JSON.parse(a.body) as { error?: string }).error;
  } else if (type.startsWith("text/html")) {
    code = /<p>Error: <code>([^<]*)<\/code><\/p>/.exec(a.body)?.[1];
    // The sign-in page shown again after a refused password (documented, see login.ts).
    if (code === undefined && /<form[^>]*action="\/login"/.test(a.body)) return;
  }
  expect(code !== undefined && KNOWN_ERRORS.has(code), `no stable error code: ${what}`).toBe(true);
}

/** Runs the HTTP property on `target` for `runs` cases (or the fuzz time budget). */
export async function fuzzHttp(target: FuzzTarget, runs: number): Promise<number> {
  const { server: s, probe, close } = await target.open();
  try {
    const t = s.tessera;
    const secrets = await setUp(s);
    const routes = routesOf(s.app);
    const state = { password: PASSWORD };
    const aliceId = (await t.users.require("alice")).id;
    const usersBefore = (await t.users.list()).length;
    const clientsBefore = (await t.clients.list()).length;
    const n = await runProperty(
      `http ${target.name}`,
      httpCase(routes),
      async (c: HttpCase) => {
        const route = routes[c.route] as { method: string; path: string };
        const build = builderFor(route.method, route.path);
        if (build === undefined) throw new Error(`no generator for ${route.method} ${route.path}`);
        // Time moves between cases (throttles and lifetimes see a live server), never within.
        s.clock.advance(30_000);
        const req = await build(fixtures(t, secrets, state), c.pick);
        for (const m of c.mutations) mutate(req, m);
        const sessionsBefore = (await t.sessions.list(aliceId)).length;
        const familiesBefore = await probe.families(s.clock.now());
        const answers =
          c.repeat === "once"
            ? [await send(s, req, c.wire)]
            : c.repeat === "twice"
              ? [await send(s, req, c.wire), await send(s, req, c.wire)]
              : await Promise.all([send(s, req, c.wire), send(s, req, c.wire)]);
        let ok = 0;
        for (const answer of answers) {
          if (STATS !== undefined) {
            const k = `${route.method} ${route.path} ${answer.status}`;
            STATS.set(k, (STATS.get(k) ?? 0) + 1);
          }
          checkAnswer(req, answer);
          if (answer.status < 400) ok++;
          if (route.path === "/password" && answer.status === 200) {
            const body = req.body;
            if (body !== undefined && body.kind !== "raw") {
              // What the server stored: a form field carries any value as its JSON text.
              state.password = formValue(body.value.newPassword);
            }
          }
        }
        const sessionsAfter = (await t.sessions.list(aliceId)).length;
        expect(sessionsAfter, "sessions made by a refused request").toBeLessThanOrEqual(
          sessionsBefore + ok,
        );
        const families = await probe.families(s.clock.now());
        expect(
          families.count,
          "live refresh families made by a refused request",
        ).toBeLessThanOrEqual(familiesBefore.count + ok);
        expect(families.doubleLive, "refresh families with two live tokens").toEqual([]);
      },
      runs,
    );
    if (STATS !== undefined) {
      console.log(
        [...STATS]
          .sort()
          .map(([k, v]) => `${k}: ${v}`)
          .join("\n"),
      );
    }
    expect((await t.users.list()).length).toBe(usersBefore);
    expect((await t.clients.list()).length).toBe(clientsBefore);
    return n;
  } finally {
    await close();
  }
}

/** Opens a test server on the given stores and the probe that counts its families. */
export async function openServer(
  options: Parameters<typeof testServer>[0],
  probe: StoreProbe,
  cleanup: () => Promise<void> = async () => {},
) {
  const server = await testServer(options);
  return {
    server,
    probe,
    close: async () => {
      await server.close();
      await cleanup();
    },
  };
}
