import type { FastifyInstance } from "fastify";
import type { Tessera } from "../../tessera.js";
import type { RouteContext } from "../app.js";
import { currentSession } from "../auth.js";
import { escapeHtml, framed, loginForm, page } from "../pages.js";

/**
 * GET /: a minimal page with no script, so a newcomer can sign in from a browser. The
 * form posts to /login (same origin), which answers a form post with a redirect here.
 * With the demo (`serve --demo`), in the demo's frame: its navigation and stylesheet.
 */
export function homeRoutes(app: FastifyInstance, tessera: Tessera, ctx: RouteContext): void {
  app.get("/", async (request, reply) => {
    const current = await currentSession(tessera, request, reply);
    reply.type("text/html; charset=utf-8");
    const frame = framed(reply, ctx.frame, "/");
    const guide = '<p><a href="/guide">Which mechanism should I use?</a></p>';
    if (current === undefined) return page(`${loginForm()}\n${guide}`, frame);
    return page(
      `<p>Signed in as <strong>${escapeHtml(current.user.username)}</strong>.</p>
<p><a href="/account">Your sessions and devices</a> · <a href="/session">Session details</a> · <a href="/sessions">All sessions</a> · <a href="/consents">Authorized applications</a></p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
${guide}`,
      frame,
    );
  });
}
