import type { FastifyInstance } from "fastify";
import { TesseraError } from "../../errors.js";
import { clearedSessionCookie, sessionCookie } from "../../sessions/cookie.js";
import type { Tessera } from "../../tessera.js";
import { publicUser } from "../../users/users.js";
import type { RouteContext } from "../app.js";
import { currentSession, maxAge, requireSession } from "../auth.js";
import { bodyObject, isHtmlFormPost, optionalBoolean, requiredString } from "../input.js";
import { SessionTexts, sessionJson } from "../session-json.js";

/** What Fastify's serializer sends an object as: GET /session sends its text with it. */
const JSON_TYPE = "application/json; charset=utf-8";

/** GET /session, GET /sessions, DELETE /sessions/:id, POST /logout, POST /password. */
export function sessionRoutes(app: FastifyInstance, tessera: Tessera, ctx: RouteContext): void {
  // The session's text is made once per record version (a touch), not per request.
  const texts = new SessionTexts();
  app.get("/session", async (request, reply) => {
    const { user, session } = await requireSession(tessera, request, reply);
    // The bytes JSON.stringify({ user, session }) gives, the session part kept.
    const body = `{"user":${JSON.stringify(publicUser(user))},"session":${texts.json(session)}}`;
    return reply.type(JSON_TYPE).send(body);
  });

  app.get("/sessions", async (request, reply) => {
    const current = await requireSession(tessera, request, reply);
    const sessions = await tessera.sessions.list(current.user.id);
    return {
      sessions: sessions.map(({ key, session }) => ({
        ...sessionJson(session),
        userAgent: session.userAgent ?? null,
        current: key === current.key,
      })),
    };
  });

  app.delete<{ Params: { id: string } }>("/sessions/:id", async (request, reply) => {
    ctx.assertSameOrigin(request);
    const current = await requireSession(tessera, request, reply);
    const id = request.params.id;
    await tessera.endSession(current.user.id, id);
    if (id === current.session.id) reply.header("set-cookie", clearedSessionCookie());
    return reply.code(204).send();
  });

  app.post("/logout", async (request, reply) => {
    ctx.assertSameOrigin(request);
    const body = bodyObject(request.body);
    const all = optionalBoolean(body, "all");
    const current = await currentSession(tessera, request, reply);
    if (current === undefined && all) throw new TesseraError("unauthenticated");
    if (current !== undefined) {
      if (all) await tessera.revokeAllForUser(current.user.id);
      else await tessera.logout(current);
      request.log.info({ userId: current.user.id, all }, "logout");
    }
    // Always clear the cookie, even when it named nothing live: logout is idempotent.
    reply.header("set-cookie", clearedSessionCookie());
    // The home page's "Sign out" button: a 204 would leave "Signed in as …" on screen.
    if (isHtmlFormPost(request.headers)) return reply.code(303).header("location", "/").send();
    return reply.code(204).send();
  });

  app.post("/password", async (request, reply) => {
    ctx.assertSameOrigin(request);
    const current = await requireSession(tessera, request, reply);
    const body = bodyObject(request.body);
    const currentPassword = requiredString(body, "currentPassword", Number.MAX_SAFE_INTEGER);
    const newPassword = requiredString(body, "newPassword", Number.MAX_SAFE_INTEGER);
    const { token, session } = await tessera.changePassword({
      user: current.user,
      currentPassword,
      newPassword,
      ip: request.ip,
      userAgent: request.headers["user-agent"],
      remember: current.session.remember,
    });
    reply.header("set-cookie", sessionCookie(token, maxAge(tessera, { session })));
    request.log.info({ userId: current.user.id }, "password changed");
    return { user: publicUser(current.user), session: sessionJson(session) };
  });
}
