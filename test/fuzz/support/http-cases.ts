/**
 * What the HTTP fuzzer sends: for every route of the app, a near-valid request built from
 * real fixtures (a live session cookie, a registered client's credentials, a fresh
 * authorization code, refresh and access tokens), then up to a few mutations of one part
 * (a header, a field, the encoding, the method, the path, a token's bytes).
 *
 * The routes are read from the Fastify app itself (`routesOf`): a route without a builder
 * here fails the coverage test, so a new endpoint cannot escape the fuzzer.
 */
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import type { WireTwist } from "./wire.js";

/** One request, before it is sent. */
export interface Req {
  method: string;
  url: string;
  headers: Record<string, string | string[]>;
  body?: { kind: "json" | "form"; value: Record<string, unknown> } | { kind: "raw"; value: string };
}

/** The real credentials a case starts from (fresh for every case, made lazily). */
export interface Fixtures {
  origin: string;
  session(): Promise<string>;
  /** The confidential client (every grant, introspection, the feed). */
  conf: { id: string; secret: string };
  /** A public client that needs consent. */
  pub: { id: string };
  /** An OpenID Connect relying party (confidential). */
  rp: { id: string; secret: string };
  redirectUri: string;
  postLogoutUri: string;
  /** A fresh code for `client` (its PKCE verifier with it). */
  code(
    client: "conf" | "pub" | "rp",
  ): Promise<{ code: string; verifier: string; challenge: string }>;
  refreshToken(): Promise<string>;
  /** A JWT access token of alice with `openid` (for /userinfo). */
  userAccessToken(): Promise<string>;
  /** An access token of the client (JWT or opaque). */
  clientAccessToken(format: "jwt" | "opaque"): Promise<string>;
  /** The public id of one of alice's other sessions. */
  sessionPublicId(): Promise<string>;
  /** A pending consent interaction of alice (for the decision form), or a forged id. */
  interaction(sessionToken: string): Promise<string>;
  password: string;
  username: string;
}

export type Builder = (fx: Fixtures, pick: number) => Promise<Req>;

const FORM = "application/x-www-form-urlencoded";
const JSON_TYPE = "application/json";

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

const cookie = (token: string) => `__Host-session=${token}`;

async function sessionReq(
  fx: Fixtures,
  method: string,
  url: string,
  body?: Req["body"],
): Promise<Req> {
  const headers: Record<string, string> = { cookie: cookie(await fx.session()) };
  if (method !== "GET" && method !== "HEAD") headers.origin = fx.origin;
  if (body !== undefined) headers["content-type"] = body.kind === "form" ? FORM : JSON_TYPE;
  return { method, url, headers, ...(body === undefined ? {} : { body }) };
}

function oauthForm(auth: string | undefined, value: Record<string, unknown>): Req {
  const headers: Record<string, string> = { "content-type": FORM };
  if (auth !== undefined) headers.authorization = auth;
  return { method: "POST", url: "", headers, body: { kind: "form", value } };
}

function authorizeQuery(fx: Fixtures, challenge: string, pick: number): string {
  const client = pick % 3 === 0 ? fx.pub.id : pick % 3 === 1 ? fx.conf.id : fx.rp.id;
  const params: Record<string, string> = {
    response_type: "code",
    client_id: client,
    redirect_uri: fx.redirectUri,
    state: "st",
    code_challenge: challenge,
    code_challenge_method: "S256",
    scope: client === fx.rp.id ? "openid read" : "read",
  };
  if (pick % 5 === 0) params.response_mode = "form_post";
  if (pick % 7 === 0) params.prompt = "login";
  if (client === fx.rp.id) params.nonce = "n-0";
  return new URLSearchParams(params).toString();
}

const get =
  (url: string, auth?: "session"): Builder =>
  async (fx) =>
    auth === "session" ? sessionReq(fx, "GET", url) : { method: "GET", url, headers: {} };

/** Builders by `METHOD /path` (HEAD reuses the GET builder: `head(...)`). */
export const BUILDERS: Record<string, Builder> = {
  "GET /": get("/", "session"),
  "GET /guide": get("/guide"),
  "GET /account": get("/account", "session"),
  "GET /session": get("/session", "session"),
  "GET /sessions": get("/sessions", "session"),
  "DELETE /sessions/:id": async (fx, pick) =>
    sessionReq(
      fx,
      "DELETE",
      `/sessions/${pick % 2 === 0 ? await fx.sessionPublicId() : "unknown-id"}`,
    ),
  "POST /sessions/:id/end": async (fx, pick) =>
    sessionReq(
      fx,
      "POST",
      `/sessions/${pick % 2 === 0 ? await fx.sessionPublicId() : "unknown-id"}/end`,
    ),
  "POST /login": async (fx, pick) => {
    const value: Record<string, unknown> = { username: fx.username, password: fx.password };
    if (pick % 3 === 0) value.remember = true;
    if (pick % 4 === 0) value.return_to = `/oauth/authorize?client_id=${fx.pub.id}`;
    const kind = pick % 2 === 0 ? "json" : "form";
    const req: Req = {
      method: "POST",
      url: "/login",
      headers: { "content-type": kind === "form" ? FORM : JSON_TYPE, origin: fx.origin },
      body: { kind, value },
    };
    if (pick % 5 === 0) req.headers.cookie = cookie(await fx.session());
    if (pick % 6 === 0) req.headers.accept = "text/html";
    return req;
  },
  "POST /logout": async (fx, pick) =>
    sessionReq(fx, "POST", "/logout", { kind: "json", value: pick % 3 === 0 ? { all: true } : {} }),
  "POST /password": async (fx, pick) =>
    sessionReq(fx, "POST", "/password", {
      kind: pick % 2 === 0 ? "json" : "form",
      value: {
        currentPassword: pick % 4 === 0 ? `${fx.password}x` : fx.password,
        newPassword: pick % 3 === 0 ? "short" : `${fx.password} ${pick % 1000}`,
      },
    }),
  "GET /healthz": get("/healthz"),
  "GET /readyz": get("/readyz"),
  "GET /metrics": get("/metrics"),
  "GET /.well-known/jwks.json": get("/.well-known/jwks.json"),
  "GET /.well-known/oauth-authorization-server": get("/.well-known/oauth-authorization-server"),
  "GET /.well-known/openid-configuration": get("/.well-known/openid-configuration"),
  "GET /userinfo": async (fx) => ({
    method: "GET",
    url: "/userinfo",
    headers: { authorization: `Bearer ${await fx.userAccessToken()}` },
  }),
  "POST /userinfo": async (fx, pick): Promise<Req> => {
    const token = await fx.userAccessToken();
    if (pick % 2 === 0) {
      return { method: "POST", url: "/userinfo", headers: { authorization: `Bearer ${token}` } };
    }
    return {
      method: "POST",
      url: "/userinfo",
      headers: { "content-type": FORM },
      body: { kind: "form", value: { access_token: token } },
    };
  },
  "GET /end-session": async (fx, pick) => {
    const params = new URLSearchParams({
      client_id: fx.rp.id,
      post_logout_redirect_uri: fx.postLogoutUri,
      state: "s",
    });
    const req = await sessionReq(fx, "GET", `/end-session?${params}`);
    if (pick % 3 === 0) req.headers["sec-fetch-site"] = "cross-site";
    return req;
  },
  "POST /end-session": async (fx, pick) =>
    sessionReq(fx, "POST", "/end-session", {
      kind: "form",
      value: {
        client_id: fx.rp.id,
        post_logout_redirect_uri: fx.postLogoutUri,
        ...(pick % 2 === 0 ? { confirm: "yes" } : {}),
      },
    }),
  "GET /events/revocations": async (fx) => ({
    method: "GET",
    url: "/events/revocations",
    headers: { authorization: basic(fx.conf.id, fx.conf.secret), "last-event-id": "0" },
  }),
  "GET /consents": get("/consents", "session"),
  "DELETE /consents/:clientId": async (fx, pick) =>
    sessionReq(fx, "DELETE", `/consents/${pick % 2 === 0 ? fx.pub.id : "nobody"}`),
  "GET /oauth/authorize": async (fx, pick) => {
    const { challenge } = await fx.code("conf");
    const url = `/oauth/authorize?${authorizeQuery(fx, challenge, pick)}`;
    if (pick % 4 === 0) return { method: "GET", url, headers: {} };
    return sessionReq(fx, "GET", url);
  },
  "POST /oauth/authorize/decision": async (fx, pick) => {
    const session = await fx.session();
    return {
      method: "POST",
      url: "/oauth/authorize/decision",
      headers: { cookie: cookie(session), origin: fx.origin, "content-type": FORM },
      body: {
        kind: "form",
        value: {
          interaction: await fx.interaction(session),
          decision: pick % 2 === 0 ? "approve" : "deny",
        },
      },
    };
  },
  "POST /oauth/token": async (fx, pick) => {
    const auth = basic(fx.conf.id, fx.conf.secret);
    switch (pick % 4) {
      case 0:
        return oauthForm(auth, { grant_type: "client_credentials", scope: "read" });
      case 1: {
        const { code, verifier } = await fx.code("conf");
        return oauthForm(auth, {
          grant_type: "authorization_code",
          code,
          code_verifier: verifier,
          redirect_uri: fx.redirectUri,
        });
      }
      case 2: {
        const { code, verifier } = await fx.code("pub");
        return oauthForm(undefined, {
          grant_type: "authorization_code",
          client_id: fx.pub.id,
          code,
          code_verifier: verifier,
          redirect_uri: fx.redirectUri,
        });
      }
      default:
        return oauthForm(auth, {
          grant_type: "refresh_token",
          refresh_token: await fx.refreshToken(),
        });
    }
  },
  "POST /oauth/introspect": async (fx, pick) => {
    const token =
      pick % 3 === 0
        ? await fx.refreshToken()
        : await fx.clientAccessToken(pick % 3 === 1 ? "jwt" : "opaque");
    return oauthForm(basic(fx.conf.id, fx.conf.secret), {
      token,
      ...(pick % 2 === 0 ? { token_type_hint: "refresh_token" } : {}),
    });
  },
  "POST /oauth/revoke": async (fx, pick) => {
    const token =
      pick % 3 === 0
        ? await fx.refreshToken()
        : await fx.clientAccessToken(pick % 3 === 1 ? "jwt" : "opaque");
    return oauthForm(basic(fx.conf.id, fx.conf.secret), {
      token,
      ...(pick % 2 === 0 ? { token_type_hint: "access_token" } : {}),
    });
  },
};

/** HEAD runs the GET builder with the method changed. */
export function builderFor(method: string, path: string): Builder | undefined {
  const own = BUILDERS[`${method} ${path}`];
  if (own !== undefined) return fixUrl(own, path);
  if (method !== "HEAD") return undefined;
  const asGet = BUILDERS[`GET ${path}`];
  if (asGet === undefined) return undefined;
  return async (fx, pick) => ({ ...(await fixUrl(asGet, path)(fx, pick)), method: "HEAD" });
}

/** OAuth form builders leave the URL to the route. */
function fixUrl(b: Builder, path: string): Builder {
  return async (fx, pick) => {
    const req = await b(fx, pick);
    return req.url === "" ? { ...req, url: path } : req;
  };
}

/** Every `METHOD /path` the app serves, read from its route tree. */
export function routesOf(app: FastifyInstance): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const m = /^([\s│├└─]*)([^\s│├└─].*) \(([A-Z, ]+)\)$/.exec(line);
    if (m === null) continue;
    const depth = Math.floor((m[1] as string).length / 4);
    stack.length = depth;
    stack.push(m[2] as string);
    const path = stack.join("");
    for (const method of (m[3] as string).split(", ")) out.push({ method, path });
  }
  return out;
}

// ---- mutations ----------------------------------------------------------------------

const HEADERS = [
  "authorization",
  "cookie",
  "origin",
  "content-type",
  "accept",
  "sec-fetch-site",
  "last-event-id",
  "user-agent",
  "x-forwarded-for",
] as const;

/** What HTTP can carry in a header value (no CR, LF, NUL): latin-1 visible and space. */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.constant(0x09),
);
const headerText = fc
  .array(headerChar, { maxLength: 40 })
  .map((cs) => String.fromCharCode(...cs))
  .map((s) => s.trim());

/** Values of the kinds that break parsers: odd strings, numbers, nesting, size. */
const oddString = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 10 }),
  fc.constantFrom(
    "",
    " ",
    "\u0000",
    "%",
    "%00",
    "%zz",
    "\uD800",
    "\uFFFF",
    "é",
    "𝕏",
    "null",
    "true",
    "__proto__",
    "constructor",
    "a".repeat(5000),
  ),
  fc.integer({ min: 1, max: 200_000 }).map((n) => "x".repeat(n)),
);
/** A field's value of the wrong type, mostly; odd strings, any JSON, deep nesting. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.oneof(
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(oddString, { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), oddString, { maxKeys: 3 }),
    ),
  },
  { weight: 3, arbitrary: oddString },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 50, max: 3000 }).map((d) => {
      let v: unknown = "x";
      for (let i = 0; i < d; i++) v = [v];
      return v;
    }),
  },
);

const headerValue = fc.oneof(
  headerText,
  fc.constantFrom(
    "",
    "Bearer",
    "Bearer ",
    "Basic",
    "Basic !!!",
    "Basic Og==",
    "Basic OjpfOjo=",
    "Bearer a.b.c",
    "__Host-session=",
    "__Host-session=a; __Host-session=b",
    "null",
    "http://evil.example",
    "application/json; charset=utf-16",
    "application/x-www-form-urlencoded; charset=iso-8859-1",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/json, application/json",
    "cross-site",
    "same-site",
  ),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => "A".repeat(n)),
);

export type Mutation =
  | { op: "setHeader"; name: (typeof HEADERS)[number]; value: string }
  | { op: "dropHeader"; name: (typeof HEADERS)[number] }
  | { op: "dupHeader"; name: (typeof HEADERS)[number]; value: string }
  | { op: "setField"; key: number | string; value: unknown }
  | { op: "dropField"; key: number }
  | { op: "dupField"; key: number }
  | { op: "encoding"; to: "json" | "form" | "raw"; raw: string }
  | { op: "method"; method: string }
  | { op: "path"; how: string }
  | { op: "query"; key: string; value: string }
  | { op: "token"; how: "flip" | "truncate" | "append" | "case"; at: number };

const setField = fc.record({
  op: fc.constant("setField" as const),
  // Mostly a field the request has (its index), sometimes a new one.
  key: fc.oneof({ weight: 3, arbitrary: fc.nat({ max: 7 }) }, fc.string({ maxLength: 12 })),
  value: oddValue,
});
const tokenMutation = fc.record({
  op: fc.constant("token" as const),
  how: fc.constantFrom("flip" as const, "truncate" as const, "append" as const, "case" as const),
  at: fc.nat(),
});

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: setField },
  { weight: 3, arbitrary: tokenMutation },
  fc.record({
    op: fc.constant("setHeader" as const),
    name: fc.constantFrom(...HEADERS),
    value: headerValue,
  }),
  fc.record({ op: fc.constant("dropHeader" as const), name: fc.constantFrom(...HEADERS) }),
  fc.record({
    op: fc.constant("dupHeader" as const),
    name: fc.constantFrom(...HEADERS),
    value: headerValue,
  }),
  fc.record({ op: fc.constant("dropField" as const), key: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant("dupField" as const), key: fc.nat({ max: 7 }) }),
  fc.record({
    op: fc.constant("encoding" as const),
    to: fc.constantFrom("json" as const, "form" as const, "raw" as const),
    raw: fc.oneof(
      fc.string({ unit: "binary", maxLength: 60 }),
      fc.constantFrom(
        "{",
        "[]",
        "null",
        '{"a":1}{',
        "a=1&a=2",
        "%",
        "\uFEFF{}",
        '{"__proto__":{}}',
      ),
    ),
  }),
  fc.record({
    op: fc.constant("method" as const),
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"),
  }),
  fc.record({
    op: fc.constant("path" as const),
    how: fc.constantFrom("/", "%00", "/..", "//", "%2F", "%zz", "%C3%A9", "/x", ";a=b", "%", "#f"),
  }),
  fc.record({
    op: fc.constant("query" as const),
    key: fc.oneof(
      fc.string({ maxLength: 10 }),
      fc.constantFrom(
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "response_type",
        "prompt",
        "max_age",
        "id_token_hint",
        "__proto__",
      ),
    ),
    value: oddString,
  }),
  tokenMutation,
);

export interface HttpCase {
  route: number;
  pick: number;
  mutations: Mutation[];
  /** The same request once, twice in a row (replay), or twice at once (a race). */
  repeat: "once" | "twice" | "concurrently";
  /** Sent as bytes on a real socket (with this twist) instead of through inject(). */
  wire: WireTwist | undefined;
}

/**
 * Routes that take a body or change state are chosen most, plain GETs less, the implicit
 * HEAD of a GET least (it runs the GET's handler).
 */
function routeWeight(r: { method: string; path: string }): number {
  if (r.method === "HEAD") return 1;
  if (r.method === "GET") return /authorize|userinfo|end-session|events/.test(r.path) ? 4 : 2;
  return 6;
}

export function httpCase(routes: Array<{ method: string; path: string }>): fc.Arbitrary<HttpCase> {
  return fc.record({
    route: fc.oneof(
      ...routes.map((r, i) => ({ weight: routeWeight(r), arbitrary: fc.constant(i) })),
    ),
    pick: fc.nat({ max: 10_000 }),
    repeat: fc.constantFrom("once", "once", "once", "once", "twice", "concurrently"),
    wire: fc.option(
      fc.constantFrom<WireTwist>(
        "none",
        "none",
        "no-host",
        "two-hosts",
        "short-length",
        "chunked",
        "utf8-header",
        "http10",
      ),
      { nil: undefined, freq: 4 },
    ),
    // Mostly one mutation (near-valid), sometimes none or several.
    mutations: fc.oneof(
      { weight: 2, arbitrary: fc.array(mutation, { minLength: 0, maxLength: 0 }) },
      { weight: 5, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 1 }) },
      { weight: 2, arbitrary: fc.array(mutation, { minLength: 2, maxLength: 4 }) },
    ),
  });
}

const TOKEN = /tsr_[A-Za-z0-9_-]{57}|ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

function mutateToken(t: string, how: Mutation & { op: "token" }): string {
  const i = how.at % t.length;
  switch (how.how) {
    case "flip": {
      const c = t[i] === "A" ? "B" : "A";
      return t.slice(0, i) + c + t.slice(i + 1);
    }
    case "truncate":
      return t.slice(0, i);
    case "append":
      return `${t}A`;
    case "case":
      return t.toUpperCase();
  }
}

function keyOf(obj: Record<string, unknown>, key: number | string): string {
  if (typeof key === "string") return key;
  const keys = Object.keys(obj);
  return keys.length === 0 ? "x" : (keys[key % keys.length] as string);
}

/** Applies one mutation to a request (in place). */
export function mutate(req: Req, m: Mutation): void {
  switch (m.op) {
    case "setHeader":
      req.headers[m.name] = m.value;
      return;
    case "dropHeader":
      delete req.headers[m.name];
      return;
    case "dupHeader": {
      const prev = req.headers[m.name];
      req.headers[m.name] = [...(prev === undefined ? [] : [prev].flat()), m.value];
      return;
    }
    case "setField":
    case "dropField":
    case "dupField": {
      if (req.body === undefined) req.body = { kind: "json", value: {} };
      if (req.body.kind === "raw") return;
      const obj = req.body.value;
      const k = keyOf(obj, m.key);
      if (m.op === "setField") obj[k] = m.value;
      else if (m.op === "dropField") delete obj[k];
      else obj[k] = [obj[k] ?? "", obj[k] ?? ""];
      return;
    }
    case "encoding": {
      const value = req.body?.kind === "raw" || req.body === undefined ? {} : req.body.value;
      if (m.to === "raw") req.body = { kind: "raw", value: m.raw };
      else {
        req.body = { kind: m.to, value };
        req.headers["content-type"] = m.to === "json" ? JSON_TYPE : FORM;
      }
      return;
    }
    case "method":
      req.method = m.method;
      return;
    case "path": {
      const q = req.url.indexOf("?");
      const [path, query] = q === -1 ? [req.url, ""] : [req.url.slice(0, q), req.url.slice(q)];
      req.url = `${path}${m.how}${query}`;
      return;
    }
    case "query": {
      const u = new URL(req.url, "http://x");
      u.searchParams.set(m.key, m.value);
      req.url = `${u.pathname}${u.search}`;
      return;
    }
    case "token": {
      // The first token anywhere in the request (headers, then body).
      for (const [name, v] of Object.entries(req.headers)) {
        if (typeof v === "string" && TOKEN.test(v)) {
          TOKEN.lastIndex = 0;
          req.headers[name] = v.replace(TOKEN, (t) => mutateToken(t, m));
          return;
        }
        TOKEN.lastIndex = 0;
      }
      if (req.body !== undefined && req.body.kind !== "raw") {
        for (const [k, v] of Object.entries(req.body.value)) {
          if (typeof v === "string" && TOKEN.test(v)) {
            TOKEN.lastIndex = 0;
            req.body.value[k] = v.replace(TOKEN, (t) => mutateToken(t, m));
            return;
          }
          TOKEN.lastIndex = 0;
        }
      }
      return;
    }
  }
}

/** The request's payload as bytes on the wire, and its content type left as set. */
export function payloadOf(req: Req): string | undefined {
  const b = req.body;
  if (b === undefined) return undefined;
  if (b.kind === "raw") return b.value;
  if (b.kind === "json") return JSON.stringify(b.value);
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries(b.value)) {
    if (Array.isArray(v)) for (const x of v) form.append(k, formValue(x));
    else form.append(k, formValue(v));
  }
  return form.toString();
}

/** A form field's value as it goes on the wire: strings as they are, anything else as JSON. */
export function formValue(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? "");
}
