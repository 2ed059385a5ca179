import type { FastifyInstance } from "fastify";
import type { Tessera } from "../../tessera.js";
import { currentSession } from "../auth.js";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

function page(body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Tessera</title></head>
<body><main><h1>Tessera</h1>
${body}
</main></body></html>
`;
}

const LOGIN_FORM = `<form method="post" action="/login">
<p><label>Username <input name="username" autocomplete="username" required></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><label><input name="remember" type="checkbox" value="true"> Remember me</label></p>
<p><button type="submit">Sign in</button></p>
</form>`;

/**
 * GET /: a minimal page with no script, so a newcomer can sign in from a browser. The
 * form posts to /login (same origin), which answers a form post with a redirect here.
 */
export function homeRoutes(app: FastifyInstance, tessera: Tessera): void {
  app.get("/", async (request, reply) => {
    const current = await currentSession(tessera, request, reply);
    reply.type("text/html; charset=utf-8");
    if (current === undefined) return page(LOGIN_FORM);
    return page(`<p>Signed in as <strong>${escapeHtml(current.user.username)}</strong>.</p>
<p><a href="/session">Session details</a> · <a href="/sessions">All sessions</a></p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>`);
  });
}
