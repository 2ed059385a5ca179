import type { FastifyInstance } from "fastify";
import { cookieValues, SESSION_COOKIE, sessionCookie } from "../../sessions/cookie.js";
import type { Tessera } from "../../tessera.js";
import { publicUser } from "../../users/users.js";
import type { RouteContext } from "../app.js";
import { maxAge } from "../auth.js";
import { bodyObject, optionalBoolean, requiredString } from "../input.js";

/** POST /login: `{username,password[,remember]}` as JSON or form → session cookie. */
export function loginRoutes(app: FastifyInstance, tessera: Tessera, ctx: RouteContext): void {
  app.post("/login", async (request, reply) => {
    ctx.assertSameOrigin(request);
    const body = bodyObject(request.body);
    const username = requiredString(body, "username", 256);
    const password = requiredString(body, "password", Number.MAX_SAFE_INTEGER);
    const remember = optionalBoolean(body, "remember");
    const { user, token, session } = await tessera.login({
      username,
      password,
      remember,
      ip: request.ip,
      userAgent: request.headers["user-agent"],
      // Whatever session cookie came with the request dies: a login never keeps an id.
      presentedTokens: cookieValues(request.headers.cookie, SESSION_COOKIE),
    });
    reply.header("set-cookie", sessionCookie(token, maxAge(tessera, { session })));
    request.log.info({ userId: user.id, session: session.id }, "login");
    if (wantsHtml(request.headers.accept, request.headers["content-type"])) {
      return reply.code(303).header("location", "/").send();
    }
    return { user: publicUser(user) };
  });
}

/** A browser form post (not fetch/XHR) is answered with a redirect to the home page. */
function wantsHtml(accept: string | undefined, contentType: string | undefined): boolean {
  return (
    accept?.includes("text/html") === true &&
    contentType?.startsWith("application/x-www-form-urlencoded") === true
  );
}
