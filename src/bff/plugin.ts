/**
 * The BFF's HTTP face, as a Fastify plugin: thin. Reads cookies and headers, applies the
 * CSRF rule, calls the Bff (src/bff/bff.ts), and writes its answers.
 *
 * - `GET /bff/login[?return_to=/path]` → 302 to Tessera's authorization endpoint
 * - `GET /bff/callback` → the session cookie, 303 to `return_to`
 * - `GET /bff/user` → `{sub, scope, createdAt, expiresAt}` or 401 `unauthenticated`
 * - `POST /bff/logout` → 204 (303 to `/` for an HTML form)
 * - `/bff/api/NAME/*` (any method) → the upstream NAME
 *
 * The browser holds `__Host-bff` (Secure, HttpOnly, SameSite=Strict, Path=/) and, while
 * a login runs, `__Host-bff-login` (SameSite=Lax: it rides the redirect back from
 * Tessera; one per browser, for every login it starts: src/bff/login.ts). Errors are
 * `{"error": code, "message": text}` with the code's status.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { isTesseraError, TesseraError } from "../errors.js";
import { cookieValues } from "../shared/cookies.js";
import { isCrossSiteByFetchMetadata } from "../shared/same-origin.js";
import type { Bff } from "./bff.js";
import { type ProxyRequest, proxy } from "./proxy.js";

export const BFF_COOKIE = "__Host-bff";
export const BFF_LOGIN_COOKIE = "__Host-bff-login";
/** The custom header every proxied request must carry (as Duende's BFF). */
export const CSRF_HEADER = "x-csrf";

const STRICT = "Path=/; Secure; HttpOnly; SameSite=Strict";
const LAX = "Path=/; Secure; HttpOnly; SameSite=Lax";
/** Cookie headers longer than this are not read (browsers send at most ~8 KiB). */
const MAX_COOKIE_HEADER = 16 * 1024;

const HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
};

/** The one value of a cookie; undefined when absent or present twice (tossed). */
function cookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (header === undefined || header.length > MAX_COOKIE_HEADER) return undefined;
  const values = cookieValues(header, name);
  return values.length === 1 ? values[0] : undefined;
}

function query(request: FastifyRequest, name: string): string | undefined {
  const v = (request.query as Record<string, unknown>)[name];
  return typeof v === "string" ? v : undefined;
}

function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  let e: TesseraError;
  if (isTesseraError(err)) e = err;
  else {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 413) e = new TesseraError("body_too_large");
    else if (status === 415) e = new TesseraError("unsupported_media_type");
    else if (status !== undefined && status >= 400 && status < 500) {
      e = new TesseraError("invalid_request");
    } else e = new TesseraError("server_error", undefined, { cause: err });
  }
  if (e.status >= 500)
    request.log.error({ err: e.cause ?? e, error: e.code }, "bff request failed");
  else request.log.info({ error: e.code, status: e.status }, "bff request refused");
  if (e.retryAfter !== undefined) reply.header("retry-after", String(e.retryAfter));
  if (e.code === "unauthenticated")
    reply.header("set-cookie", `${BFF_COOKIE}=; ${STRICT}; Max-Age=0`);
  reply.code(e.status).send({ error: e.code, message: e.message });
}

/**
 * CSRF: a browser's request must be same-origin by its own word (Sec-Fetch-Site, else
 * Origin: src/shared/same-origin.ts); `requireHeader`: and carry `X-CSRF: 1`, which no
 * cross-site form can add and no cross-site script can without a CORS preflight the BFF
 * never grants.
 */
function assertCsrf(bff: Bff, request: FastifyRequest, requireHeader: boolean): void {
  const crossSite = isCrossSiteByFetchMetadata(
    request.headers["sec-fetch-site"],
    request.headers.origin,
    (origin) => origin === bff.options.publicOrigin,
  );
  if (crossSite) throw new TesseraError("forbidden_origin");
  if (requireHeader && request.headers[CSRF_HEADER] !== "1") {
    throw new TesseraError("forbidden_origin", "The request needs the X-CSRF: 1 header.");
  }
}

/** Registers the BFF's routes on `app` (an encapsulated scope of its own). */
export async function bffRoutes(app: FastifyInstance, bff: Bff): Promise<void> {
  await app.register(async (scope) => {
    prepareScope(scope, bff);
    scope.get("/bff/login", (request, reply) => startLogin(bff, request, reply));
    scope.get("/bff/callback", (request, reply) => finishLogin(bff, request, reply));
    scope.get("/bff/user", async (request) => bff.user(cookie(request, BFF_COOKIE)));
    scope.post("/bff/logout", (request, reply) => logout(bff, request, reply));
    scope.all("/bff/api/:name/*", (request, reply) => proxyToUpstream(bff, request, reply));
  });
}

/**
 * The scope's bodies (kept as raw bytes, for the proxy, up to `bodyLimit`), its error
 * answers, and the headers of every answer.
 */
function prepareScope(scope: FastifyInstance, bff: Bff): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser(
    "*",
    { parseAs: "buffer", bodyLimit: bff.options.bodyLimit },
    (_req, body, done) => done(null, body),
  );
  scope.setErrorHandler(errorHandler);
  // A callback hook, not an async one: no promise per request.
  scope.addHook("onRequest", (_request, reply, done) => {
    reply.headers(HEADERS);
    done();
  });
}

/** GET /bff/login: the login cookie, and a 302 to Tessera's authorization endpoint. */
async function startLogin(
  bff: Bff,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const started = await bff.startLogin(
    query(request, "return_to"),
    request.ip,
    cookie(request, BFF_LOGIN_COOKIE),
  );
  reply.header(
    "set-cookie",
    `${BFF_LOGIN_COOKIE}=${started.nonce}; ${LAX}; Max-Age=${bff.options.loginTtl}`,
  );
  return reply.redirect(started.location, 302);
}

/** GET /bff/callback: the session cookie, and a 303 to where the login was started for. */
async function finishLogin(
  bff: Bff,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { cookie: value, returnTo } = await bff.finishLogin(
    {
      code: query(request, "code"),
      state: query(request, "state"),
      iss: query(request, "iss"),
      error: query(request, "error"),
    },
    cookie(request, BFF_LOGIN_COOKIE),
  );
  // The login cookie stays until it expires: another tab's login may still need it.
  reply.header("set-cookie", `${BFF_COOKIE}=${value}; ${STRICT}`);
  return reply.redirect(returnTo, 303);
}

/** POST /bff/logout: ends the session, clears its cookie; 204, or 303 to `/` for a form. */
async function logout(
  bff: Bff,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  // A plain HTML form (no JavaScript) cannot add X-CSRF; a browser always sends
  // Origin with a POST, so the same-origin rule is enough there.
  const fromBrowser =
    request.headers["sec-fetch-site"] !== undefined || request.headers.origin !== undefined;
  assertCsrf(bff, request, !fromBrowser);
  await bff.logout(cookie(request, BFF_COOKIE), revocationFailureLogger(request));
  reply.header("set-cookie", `${BFF_COOKIE}=; ${STRICT}; Max-Age=0`);
  const html = (request.headers.accept ?? "").includes("text/html");
  return html ? reply.redirect("/", 303) : reply.code(204).send();
}

/** Logs, as a warning, a token revocation that failed during a logout. */
function revocationFailureLogger(request: FastifyRequest): (err: Error) => void {
  return (err: Error) => request.log.warn({ error: err.message }, "bff: revoking at logout failed");
}

/**
 * `/bff/api/NAME/*`: the request, with the session's access token, to the upstream NAME;
 * its answer as it came.
 */
async function proxyToUpstream(
  bff: Bff,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  assertCsrf(bff, request, true);
  const { name } = request.params as { name: string };
  const prefix = `/bff/api/${name}/`;
  const raw = request.raw.url ?? "";
  if (!bff.options.upstreams.has(name) || !raw.startsWith(prefix)) {
    throw new TesseraError("not_found", "No such upstream.");
  }
  const value = cookie(request, BFF_COOKIE);
  const session = await bff.session(value);
  const req: ProxyRequest = {
    method: request.method,
    rest: raw.slice(prefix.length),
    headers: request.headers,
    body: Buffer.isBuffer(request.body) ? request.body : undefined,
  };
  let res = await proxy(bff.options, name, req, session.accessToken);
  if (res.status === 401 && /invalid_token/.test(res.headers["www-authenticate"] ?? "")) {
    // The upstream refused the token (its clock, a revocation): refresh once, retry once.
    const again = await bff.session(value, session.accessToken);
    res = await proxy(bff.options, name, req, again.accessToken);
  }
  return reply.code(res.status).headers(res.headers).send(res.body);
}
