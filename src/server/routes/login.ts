import type { FastifyInstance } from "fastify";
import { isTesseraError, TesseraError } from "../../errors.js";
import { cookieValues, SESSION_COOKIE, sessionCookie } from "../../sessions/cookie.js";
import type { Tessera } from "../../tessera.js";
import { publicUser } from "../../users/users.js";
import type { RouteContext } from "../app.js";
import { maxAge } from "../auth.js";
import {
  bodyObject,
  isFormBody,
  isHtmlFormPost,
  optionalBoolean,
  requiredString,
} from "../input.js";
import { loginForm, page } from "../pages.js";
import { isSafeReturnTo } from "../return-to.js";
import { allowSignInRedirect } from "./authorize.js";

function returnToOf(body: Record<string, unknown>): string | undefined {
  const v = body.return_to;
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string" || !isSafeReturnTo(v)) {
    throw new TesseraError("invalid_request", "return_to must be an authorization request path.");
  }
  return v;
}

/**
 * POST /login: `{username,password[,remember][,return_to]}` as JSON or form → session
 * cookie. A form post with `return_to` (the authorization endpoint's sign-in page) is
 * answered with a redirect back to it, or the sign-in page again on failure.
 */
export function loginRoutes(app: FastifyInstance, tessera: Tessera, ctx: RouteContext): void {
  app.post("/login", async (request, reply) => {
    ctx.assertSameOrigin(request);
    const body = bodyObject(request.body);
    const returnTo = returnToOf(body);
    const username = requiredString(body, "username", 256);
    const password = requiredString(body, "password", Number.MAX_SAFE_INTEGER);
    const remember = optionalBoolean(body, "remember");
    const form = isFormBody(request.headers["content-type"]);
    let result: Awaited<ReturnType<Tessera["login"]>>;
    try {
      result = await tessera.login({
        username,
        password,
        remember,
        ip: request.ip,
        userAgent: request.headers["user-agent"],
        // Whatever session cookie came with the request dies: a login never keeps an id.
        presentedTokens: cookieValues(request.headers.cookie, SESSION_COOKIE),
      });
    } catch (err) {
      // A person at a sign-in page (the authorization request's, or the home page's: a
      // browser's own form post) sees refusals on the page, never raw JSON; a busy server
      // is one too.
      const shown = isTesseraError(err) && (err.status < 500 || err.code === "server_busy");
      const atPage = form && (returnTo !== undefined || isHtmlFormPost(request.headers));
      if (!atPage || !shown) throw err;
      request.log.info({ error: err.code, status: err.status }, "request refused");
      if (err.retryAfter !== undefined) reply.header("retry-after", String(err.retryAfter));
      if (returnTo !== undefined) await allowSignInRedirect(tessera.authorization, reply, returnTo);
      return reply
        .code(err.status)
        .type("text/html; charset=utf-8")
        .send(page(loginForm({ returnTo, error: err.message }), { title: "Sign in" }));
    }
    const { user, token, session } = result;
    reply.header("set-cookie", sessionCookie(token, maxAge(tessera, { session })));
    request.log.info({ userId: user.id, session: session.id }, "login");
    if (form && returnTo !== undefined) {
      return reply.code(303).header("location", returnTo).send();
    }
    if (isHtmlFormPost(request.headers)) {
      // A browser form post (not fetch/XHR) is answered with a redirect to the home page.
      return reply.code(303).header("location", "/").send();
    }
    return { user: publicUser(user) };
  });
}
