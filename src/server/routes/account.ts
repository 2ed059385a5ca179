import type { FastifyInstance } from "fastify";
import { clearedSessionCookie } from "../../sessions/cookie.js";
import type { SessionView } from "../../sessions/sessions.js";
import type { Tessera } from "../../tessera.js";
import type { RouteContext } from "../app.js";
import { currentSession, requireSession } from "../auth.js";
import { escapeHtml, framed, page } from "../pages.js";

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 16);

function row(s: SessionView, current: boolean): string {
  const id = escapeHtml(s.id);
  const device = escapeHtml(s.userAgent ?? "unknown device");
  const label = current ? " <strong>(this device)</strong>" : "";
  return `<li><p>${device}${label}<br>signed in ${when(s.createdAt)} UTC, last seen ${when(s.lastSeenAt)} UTC</p>
<form method="post" action="/sessions/${id}/end"><button type="submit">End this session</button></form></li>`;
}

/**
 * GET /account: the signed-in user's sessions and devices, each with "End this session",
 * and "Log out everywhere" (POST /logout with all=true). Forms only: no script needed.
 * POST /sessions/:id/end: the form's way to DELETE /sessions/:id (same-origin only).
 */
export function accountRoutes(app: FastifyInstance, tessera: Tessera, ctx: RouteContext): void {
  app.get("/account", async (request, reply) => {
    const current = await currentSession(tessera, request, reply);
    if (current === undefined) return reply.code(303).header("location", "/").send();
    const sessions = await tessera.sessions.list(current.user.id);
    const items = sessions.map(({ key, session }) => row(session, key === current.key));
    reply.type("text/html; charset=utf-8");
    const frame = framed(reply, ctx.frame, "/account");
    return page(
      `<h2>Your sessions and devices</h2>
<p>Signed in as <strong>${escapeHtml(current.user.username)}</strong>.</p>
<ul>
${items.join("\n")}
</ul>
<form method="post" action="/logout"><input type="hidden" name="all" value="true">
<button type="submit">Log out everywhere</button></form>
<p><a href="/">Back to the start page</a></p>`,
      { title: "Sessions and devices", ...frame },
    );
  });

  app.post<{ Params: { id: string } }>("/sessions/:id/end", async (request, reply) => {
    ctx.assertSameOrigin(request);
    const current = await requireSession(tessera, request, reply);
    const id = request.params.id;
    await tessera.sessions.destroyByPublicId(current.user.id, id);
    const own = id === current.session.id;
    if (own) reply.header("set-cookie", clearedSessionCookie());
    return reply
      .code(303)
      .header("location", own ? "/" : "/account")
      .send();
  });
}
