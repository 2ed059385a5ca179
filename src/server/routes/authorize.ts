import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../../errors.js";
import type {
  AuthorizationEndpoint,
  Continuation,
  RedirectTo,
  ShownError,
  Subject,
  Validation,
} from "../../oauth/authorize.js";
import { withoutReauthentication } from "../../oidc/request.js";
import type { ResolvedSession } from "../../sessions/sessions.js";
import type { Tessera } from "../../tessera.js";
import type { RouteContext } from "../app.js";
import { currentSession, requireSession } from "../auth.js";
import { toTesseraError } from "../errors.js";
import { bodyObject, requiredString } from "../input.js";
import {
  authorizeLoginPage,
  consentPage,
  errorPage,
  FORM_POST_SCRIPT_HASH,
  formPostPage,
  sameSiteBouncePage,
} from "../pages.js";
import { isSafeReturnTo } from "../return-to.js";

const subjectOf = (r: ResolvedSession): Subject => ({
  userId: r.user.id,
  sessionKey: r.key,
  authTime: r.session.createdAt,
  sessionId: r.session.id,
});

/**
 * A form on this page may end, through redirects, at the client's redirect URI; browsers
 * apply CSP `form-action` to those redirects, so the page allows that one destination
 * (its origin, or its scheme for a native app's private-use scheme) besides itself.
 */
function allowFormRedirectTo(reply: FastifyReply, redirectUri: string): void {
  const url = new URL(redirectUri);
  const source = url.origin !== "null" ? url.origin : url.protocol;
  reply.header(
    "content-security-policy",
    `default-src 'none'; form-action 'self' ${source}; frame-ancestors 'none'; base-uri 'none'`,
  );
}

/**
 * The sign-in page of an authorization request, shown again by POST /login after a failed
 * attempt, must allow the same redirect as when GET /oauth/authorize first showed it:
 * otherwise the browser blocks the redirect to the client after the right password.
 * `returnTo` is the authorization request's path; only a request that validates (a
 * registered client, its exact redirect URI) widens the policy.
 */
export async function allowSignInRedirect(
  endpoint: AuthorizationEndpoint,
  reply: FastifyReply,
  returnTo: string,
): Promise<void> {
  const query = Object.fromEntries(new URLSearchParams(returnTo.slice(returnTo.indexOf("?") + 1)));
  const v = await endpoint.validate(query);
  if (v.kind === "ok") allowFormRedirectTo(reply, v.request.redirectUri);
}

/**
 * This request's path and query, whatever form its request line had: an absolute-form
 * line (`GET http://evil.example/oauth/authorize?… HTTP/1.1`) must not lend its host to
 * a URL the page sends the browser to.
 */
function pathAndQuery(request: FastifyRequest): string {
  const url = new URL(request.url, "http://localhost");
  return `${url.pathname}${url.search}`;
}

/**
 * The authorization response: a 303 to the redirect URI, or for `response_mode=form_post`
 * a page that POSTs it there. That page runs one script, allowed by its hash, and may
 * submit a form only to the redirect URI's origin.
 */
function sendRedirect(reply: FastifyReply, to: RedirectTo): FastifyReply {
  if (to.formPost === undefined) return reply.code(303).header("location", to.location).send();
  const url = new URL(to.location);
  const source = url.origin !== "null" ? url.origin : url.protocol;
  reply.header(
    "content-security-policy",
    `default-src 'none'; script-src ${FORM_POST_SCRIPT_HASH}; form-action ${source}; frame-ancestors 'none'; base-uri 'none'`,
  );
  return html(reply, 200, formPostPage(to.location, to.formPost));
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type("text/html; charset=utf-8").send(body);
}

function showError(reply: FastifyReply, e: ShownError): FastifyReply {
  return html(reply, 400, errorPage("This request cannot be completed", e.description, e.error));
}

/** Errors of the browser-facing pages are pages too (never JSON, never a redirect). */
function htmlErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toTesseraError(err);
  if (e.status >= 500) request.log.error({ err: e.cause ?? e, error: e.code }, "request failed");
  else request.log.info({ error: e.code, status: e.status }, "request refused");
  if (e.retryAfter !== undefined) reply.header("retry-after", String(e.retryAfter));
  html(reply, e.status, errorPage("Something went wrong", e.message, e.code));
}

/** A request `validate` accepted: its client and the request as stored. */
type ValidRequest = Extract<Validation, { kind: "ok" }>;
/** `proceed`'s answer when the user must be asked. */
type ConsentQuestion = Extract<Continuation, { kind: "consent" }>;

/**
 * GET /oauth/authorize (with its sign-in and consent pages), POST
 * /oauth/authorize/decision, and the user's remembered consents: GET /consents,
 * DELETE /consents/:clientId.
 */
export async function authorizeRoutes(
  app: FastifyInstance,
  tessera: Tessera,
  ctx: RouteContext,
): Promise<void> {
  app.get("/consents", async (request, reply) => listConsents(tessera, request, reply));
  app.delete<{ Params: { clientId: string } }>("/consents/:clientId", async (request, reply) =>
    withdrawConsent(tessera, ctx, request, reply),
  );
  await app.register(async (pages) => authorizationPages(pages, tessera, ctx));
}

/** GET /consents: the signed-in user's remembered consents. */
async function listConsents(tessera: Tessera, request: FastifyRequest, reply: FastifyReply) {
  const current = await requireSession(tessera, request, reply);
  const consents = await tessera.userConsents.list(current.user.id);
  return {
    consents: consents.map((c) => ({
      clientId: c.clientId,
      scopes: c.scopes,
      grantedAt: new Date(c.grantedAt).toISOString(),
    })),
  };
}

/** DELETE /consents/:clientId: forgets the user's consent to one client. */
async function withdrawConsent(
  tessera: Tessera,
  ctx: RouteContext,
  request: FastifyRequest<{ Params: { clientId: string } }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  ctx.assertSameOrigin(request);
  const current = await requireSession(tessera, request, reply);
  const { clientId } = request.params;
  await tessera.userConsents.withdraw(current.user.id, clientId);
  request.log.info({ userId: current.user.id, clientId }, "consent revoked");
  return reply.code(204).send();
}

/** The browser-facing pages of the authorization endpoint, whose errors are pages too. */
async function authorizationPages(
  pages: FastifyInstance,
  tessera: Tessera,
  ctx: RouteContext,
): Promise<void> {
  pages.setErrorHandler(htmlErrorHandler);

  // HEAD must not store a consent question or issue a code, as the GET handler would
  // (Fastify's implicit HEAD route runs it): refused instead.
  pages.head("/oauth/authorize", async (_request, reply) => {
    reply.header("allow", "GET");
    throw new TesseraError("method_not_allowed", "Use GET for an authorization request.");
  });
  pages.get("/oauth/authorize", { exposeHeadRoute: false }, async (request, reply) =>
    authorizationRequest(tessera, request, reply),
  );
  pages.post("/oauth/authorize/decision", async (request, reply) =>
    consentDecision(tessera, ctx, request, reply),
  );
}

/**
 * GET /oauth/authorize: validate the request (a bad one is shown or sent back to the
 * client), then answer it for the browser's session, or for the lack of one.
 */
async function authorizationRequest(
  tessera: Tessera,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const endpoint = tessera.authorization;
  const v = await endpoint.validate(request.query as Record<string, unknown>);
  if (v.kind === "show") return showError(reply, v);
  if (v.kind === "redirect") return sendRedirect(reply, v);
  const current = await currentSession(tessera, request, reply);
  if (current === undefined) return withoutSession(endpoint, request, reply, v);
  return withSession(endpoint, request, reply, v, current);
}

/**
 * No session: the client's answer when it asked not to prompt; else a reload from our own
 * origin for the cookie, or the sign-in page.
 */
function withoutSession(
  endpoint: AuthorizationEndpoint,
  request: FastifyRequest,
  reply: FastifyReply,
  v: ValidRequest,
): FastifyReply {
  const answer = endpoint.withoutSession(v.request);
  if (answer !== undefined) return sendRedirect(reply, answer);
  // A cross-site navigation does not carry the SameSite=Strict cookie: reload the
  // same URL from our own origin once, which does, before asking for a password.
  const site = request.headers["sec-fetch-site"];
  if (site === "cross-site" || site === "same-site") {
    return html(reply, 200, sameSiteBouncePage(pathAndQuery(request)));
  }
  const returnTo = pathAndQuery(request);
  if (!isSafeReturnTo(returnTo)) {
    // The sign-in form could not bring the browser back here: refuse now, not after
    // the user typed a password.
    return showError(reply, {
      kind: "show",
      error: "invalid_request",
      description: "The authorization request is too long.",
    });
  }
  return signInPage(reply, v, returnTo, v.request.oidc?.loginHint);
}

/** Signed in: the code (or the client's error), a new sign-in, or the consent page. */
async function withSession(
  endpoint: AuthorizationEndpoint,
  request: FastifyRequest,
  reply: FastifyReply,
  v: ValidRequest,
  current: ResolvedSession,
): Promise<FastifyReply> {
  const next = await endpoint.proceed(subjectOf(current), v.client, v.request);
  if (next.kind === "redirect") return sendRedirect(reply, next);
  if (next.kind === "login") {
    // Signed in, but not recently enough (prompt=login, max_age): sign in again, then
    // back to this request without what asked for it.
    return signInPage(
      reply,
      v,
      withoutReauthentication(pathAndQuery(request)),
      v.request.oidc?.loginHint ?? current.user.username,
    );
  }
  return consentQuestionPage(reply, v, current, next);
}

/** The sign-in page of a valid request, allowed to redirect to its client afterwards. */
function signInPage(
  reply: FastifyReply,
  v: ValidRequest,
  returnTo: string,
  username: string | undefined,
): FastifyReply {
  allowFormRedirectTo(reply, v.request.redirectUri);
  return html(reply, 200, authorizeLoginPage({ clientId: v.client.id, returnTo, username }));
}

/** The consent page asking the signed-in user about this request's scopes. */
function consentQuestionPage(
  reply: FastifyReply,
  v: ValidRequest,
  current: ResolvedSession,
  question: ConsentQuestion,
): FastifyReply {
  allowFormRedirectTo(reply, v.request.redirectUri);
  return html(
    reply,
    200,
    consentPage({
      username: current.user.username,
      clientId: question.client.id,
      scopes: question.request.scope,
      interactionId: question.interactionId,
    }),
  );
}

/** POST /oauth/authorize/decision: the user's answer on the consent page, then the redirect. */
async function consentDecision(
  tessera: Tessera,
  ctx: RouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  ctx.assertSameOrigin(request);
  const current = await requireSession(tessera, request, reply);
  const { interaction, decision } = decisionForm(request.body);
  const out = await tessera.authorization.decide(
    subjectOf(current),
    interaction,
    decision === "approve",
  );
  if (out.kind === "show") return showError(reply, out);
  request.log.info(
    { userId: current.user.id, decision },
    decision === "approve" ? "consent granted" : "consent denied",
  );
  return sendRedirect(reply, out);
}

/** The consent form's fields: the interaction id and `approve` or `deny`. */
function decisionForm(raw: unknown): { interaction: string; decision: "approve" | "deny" } {
  const body = bodyObject(raw);
  const interaction = requiredString(body, "interaction", 64);
  const decision = requiredString(body, "decision", 16);
  if (decision !== "approve" && decision !== "deny") {
    throw new TesseraError("invalid_request", "decision must be approve or deny.");
  }
  return { interaction, decision };
}
