import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../../errors.js";
import { openidConfiguration, USERINFO_PATH } from "../../oidc/discovery.js";
import { END_SESSION_PATH, type EndSessionRequest } from "../../oidc/end-session.js";
import { clearedSessionCookie } from "../../sessions/cookie.js";
import type { ResolvedSession } from "../../sessions/sessions.js";
import type { Tessera } from "../../tessera.js";
import type { RouteContext } from "../app.js";
import { currentSession } from "../auth.js";
import { toTesseraError } from "../errors.js";
import { endSessionConfirmPage, errorPage, sameSiteBouncePage, signedOutPage } from "../pages.js";
import { metadata } from "./well-known.js";

/** The Bearer token of an `Authorization` header (RFC 6750 §2.1), or undefined. */
function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header ?? "");
  return m?.[1];
}

/**
 * RFC 6750 §3: a request without a token gets `WWW-Authenticate: Bearer` and no error
 * code; a bad token `error="invalid_token"`, a token without `openid`
 * `error="insufficient_scope"`. The body is `{"error": …}` as everywhere.
 */
function bearerErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toTesseraError(err);
  if (e.status >= 500) request.log.error({ err: e.cause ?? e, error: e.code }, "request failed");
  else request.log.info({ error: e.code, status: e.status }, "request refused");
  if (e.code === "unauthenticated") reply.header("www-authenticate", 'Bearer realm="tessera"');
  if (e.code === "invalid_token" || e.code === "insufficient_scope") {
    reply.header("www-authenticate", `Bearer realm="tessera", error="${e.code}"`);
  }
  if (e.retryAfter !== undefined) reply.header("retry-after", String(e.retryAfter));
  reply.code(e.status).send({ error: e.code, error_description: e.message });
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type("text/html; charset=utf-8").send(body);
}

/** Errors of the end-session pages are pages (never JSON, never a redirect). */
function pageErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toTesseraError(err);
  if (e.status >= 500) request.log.error({ err: e.cause ?? e, error: e.code }, "request failed");
  else request.log.info({ error: e.code, status: e.status }, "request refused");
  html(reply, e.status, errorPage("Something went wrong", e.message, e.code));
}

/** The logout request's parameters, from the query (GET) or the form (POST). */
function paramsOf(request: FastifyRequest): Record<string, unknown> {
  const source = request.method === "POST" ? request.body : request.query;
  return typeof source === "object" && source !== null ? (source as Record<string, unknown>) : {};
}

/**
 * GET /.well-known/openid-configuration, GET and POST /userinfo, GET and POST
 * /end-session (RP-Initiated Logout).
 */
export async function oidcRoutes(
  app: FastifyInstance,
  tessera: Tessera,
  ctx: RouteContext,
): Promise<void> {
  logBackchannelDeliveries(app, tessera);
  discoveryRoute(app, tessera);
  await app.register(async (scope) => userinfoRoutes(scope, tessera));
  await app.register(async (pages) => endSessionRoutes(pages, tessera, ctx));
}

/** One line per delivery outcome, naming the client (never the logout token). */
function logBackchannelDeliveries(app: FastifyInstance, tessera: Tessera): void {
  const unsubscribe = tessera.onBackchannel((e) => {
    if (e.kind === "delivered") app.log.info(e, "back-channel logout delivered");
    else if (e.kind === "error") app.log.error({ err: e.err }, "back-channel logout failed");
    else app.log.warn(e, `back-channel logout ${e.kind}`);
  });
  app.addHook("onClose", async () => unsubscribe());
}

/** GET /.well-known/openid-configuration, cacheable for as long as the JWKS. */
function discoveryRoute(app: FastifyInstance, tessera: Tessera): void {
  const issuer = tessera.config.issuer;
  const oauth = metadata(issuer);
  app.get("/.well-known/openid-configuration", async (_request, reply) => {
    reply.header("cache-control", `public, max-age=${tessera.config.jwksMaxAge}`);
    reply.removeHeader("pragma");
    return openidConfiguration(issuer, oauth, tessera.idTokenAlgs());
  });
}

/** GET and POST /userinfo, whose errors carry `WWW-Authenticate: Bearer`. */
async function userinfoRoutes(scope: FastifyInstance, tessera: Tessera): Promise<void> {
  scope.setErrorHandler(bearerErrorHandler);
  const userinfo = async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization);
    if (token === undefined) {
      throw new TesseraError("unauthenticated", "Send the access token as a Bearer token.");
    }
    return tessera.userInfo.claims(token);
  };
  scope.get(USERINFO_PATH, userinfo);
  scope.post(USERINFO_PATH, userinfo);
}

/** GET and POST /end-session, whose errors are pages. */
async function endSessionRoutes(
  pages: FastifyInstance,
  tessera: Tessera,
  ctx: RouteContext,
): Promise<void> {
  pages.setErrorHandler(pageErrorHandler);
  const endSession = async (request: FastifyRequest, reply: FastifyReply) =>
    answerEndSession(tessera, ctx, request, reply);
  pages.get(END_SESSION_PATH, endSession);
  pages.post(END_SESSION_PATH, endSession);
}

/**
 * A logout request: validate it, fetch the cookie if a cross-site navigation left it
 * behind, then ask the user, log out, or neither; and back to the relying party.
 */
async function answerEndSession(
  tessera: Tessera,
  ctx: RouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const raw = paramsOf(request);
  const confirmed = request.method === "POST" && raw.confirm === "yes";
  if (confirmed) ctx.assertSameOrigin(request);
  const v = await tessera.endSessionEndpoint.validate(raw);
  if (v.kind === "show") {
    return html(
      reply,
      400,
      errorPage("This logout request cannot be completed", v.description, "invalid_request"),
    );
  }
  const current = await currentSession(tessera, request, reply);
  const site = request.headers["sec-fetch-site"];
  if (current === undefined && (site === "cross-site" || site === "same-site")) {
    return bounceForCookie(reply, v.request);
  }
  const decision =
    confirmed && current !== undefined
      ? "logout"
      : tessera.endSessionEndpoint.decide(v.request, current?.user.id);
  if (decision === "confirm" && current !== undefined) {
    return confirmPage(reply, current, v.request);
  }
  if (decision === "logout" && current !== undefined) {
    await logOut(tessera, request, reply, current, v.request);
  }
  return finish(reply, v.request);
}

/**
 * The SameSite=Strict cookie does not come with a navigation from the relying party's
 * site: reload from our own origin once, which sends it.
 */
function bounceForCookie(reply: FastifyReply, request: EndSessionRequest): FastifyReply {
  const query = new URLSearchParams(request.params as Record<string, string>);
  return html(reply, 200, sameSiteBouncePage(`${END_SESSION_PATH}?${query}`));
}

/** The page asking the signed-in user whether to sign out. */
function confirmPage(
  reply: FastifyReply,
  current: ResolvedSession,
  request: EndSessionRequest,
): FastifyReply {
  return html(
    reply,
    200,
    endSessionConfirmPage({
      username: current.user.username,
      clientId: request.client?.id,
      params: request.params as Record<string, string>,
    }),
  );
}

/** Signs the user out (relying parties are told), logs it and clears the session cookie. */
async function logOut(
  tessera: Tessera,
  request: FastifyRequest,
  reply: FastifyReply,
  current: ResolvedSession,
  logout: EndSessionRequest,
): Promise<void> {
  await tessera.logout(current);
  request.log.info({ userId: current.user.id, clientId: logout.client?.id }, "rp-initiated logout");
  reply.header("set-cookie", clearedSessionCookie());
}

/** Back to the relying party's registered URI (with `state`), or a "signed out" page. */
function finish(reply: FastifyReply, request: EndSessionRequest): FastifyReply {
  if (request.redirectTo === undefined) return html(reply, 200, signedOutPage());
  return reply.code(303).header("location", request.redirectTo).send();
}
