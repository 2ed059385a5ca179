import type { FastifyInstance } from "fastify";
import { bffDemoRoutes, tesseraBff } from "../../bff/index.js";
import { DEMO_API_PATH, DEMO_UPSTREAM, type Demo } from "../../demo/demo.js";
import { DEMO_CSP } from "../../demo/frame.js";
import { DEMO_PAGE, DEMO_SPA, DEMO_STYLESHEET, demoHeader } from "../../demo/nav.js";
import { fourWaysPage, HIDDEN } from "../../demo/page.js";
import { DEMO_CSS } from "../../demo/style.js";
import { TesseraError } from "../../errors.js";
import { fastifyGuard } from "../../guard/adapters/fastify.js";
import { sessionCookie } from "../../sessions/cookie.js";
import type { Tessera } from "../../tessera.js";
import { publicUser } from "../../users/users.js";
import type { RouteContext } from "../app.js";
import { currentSession, maxAge, requireSession } from "../auth.js";
import { sessionJson } from "../session-json.js";
import { fingerprintCookie } from "./oauth.js";

/**
 * `serve --demo`'s pages (src/demo/ composes what they show):
 * - GET /demo: "who am I, four ways" (to `/` when nobody is signed in)
 * - POST /demo/revoke: revokes the session's demo tokens, measured; 303 back to /demo
 * - POST /demo/tokens: new demo tokens; 303 back to /demo
 * - GET /demo/api/: the demo API, guarded by `tessera/guard`
 * - the BFF (`tessera/bff`) under /bff, its single-page app at /demo/spa
 */
export async function demoRoutes(
  app: FastifyInstance,
  tessera: Tessera,
  ctx: RouteContext,
  demo: Demo,
): Promise<void> {
  app.addHook("onClose", async () => demo.close());

  app.get(DEMO_STYLESHEET, async (_request, reply) =>
    reply
      .header("content-security-policy", DEMO_CSP)
      .type("text/css; charset=utf-8")
      .send(DEMO_CSS),
  );

  app.get(DEMO_PAGE, async (request, reply) => {
    const current = await currentSession(tessera, request, reply);
    if (current === undefined) return reply.code(303).header("location", "/").send();
    const tokens = await demo.view(current.session.id, current.user);
    const html = fourWaysPage({
      username: current.user.username,
      session: { user: publicUser(current.user), session: sessionJson(current.session) },
      sessionCookie: sessionCookie(HIDDEN, maxAge(tessera, current)),
      fingerprintCookie: fingerprintCookie(HIDDEN, tokens.jwt.expiresIn),
      tokens,
    });
    return reply
      .header("content-security-policy", DEMO_CSP)
      .type("text/html; charset=utf-8")
      .send(html);
  });

  app.post(`${DEMO_PAGE}/revoke`, async (request, reply) => {
    ctx.assertSameOrigin(request);
    const current = await requireSession(tessera, request, reply);
    await demo.revoke(current.session.id, current.user);
    return reply.code(303).header("location", `${DEMO_PAGE}#revoke`).send();
  });

  app.post(`${DEMO_PAGE}/tokens`, async (request, reply) => {
    ctx.assertSameOrigin(request);
    const current = await requireSession(tessera, request, reply);
    await demo.renew(current.session.id, current.user);
    return reply.code(303).header("location", DEMO_PAGE).send();
  });

  // The demo API: what a user's API looks like, guarded by tessera/guard.
  const guard = { verify: demo.verify.bind(demo) };
  app.get(DEMO_API_PATH, { onRequest: fastifyGuard(guard) }, async (request) => {
    const p = request.principal;
    if (p === undefined || !("credential" in p)) throw new TesseraError("unauthenticated");
    return {
      sub: p.sub,
      client_id: p.clientId,
      scope: p.scopes.join(" "),
      credential: p.credential,
    };
  });

  await app.register(tesseraBff, demo.bffOptions());
  await bffDemoRoutes(app, DEMO_UPSTREAM, { at: DEMO_SPA, header: demoHeader(DEMO_SPA) });
}
