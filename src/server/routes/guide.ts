import type { FastifyInstance } from "fastify";
import type { RouteContext } from "../app.js";
import { framed, page } from "../pages.js";

/**
 * The README's decision guide ("Which mechanism should I use") as a page of the demo: what
 * each mechanism costs an API, how fast revocation takes effect, and what it is for. Plain
 * HTML under the server's CSP (no script; the demo's stylesheet with `serve --demo`); the
 * measured numbers stay in the README (`npm run bench` produces them).
 */
const GUIDE = `<h2>Which mechanism should I use?</h2>
<div class="scroll"><table>
<caption>The four ways to identify a caller after login</caption>
<thead><tr><th scope="col">mechanism</th><th scope="col">what an API pays per request</th><th scope="col">revocation takes effect</th><th scope="col">use it for</th></tr></thead>
<tbody>
<tr><th scope="row">session cookie</th><td>one store lookup</td><td>at once: the record is deleted</td><td>web apps whose pages and API live on one site</td></tr>
<tr><th scope="row">JWT access token</th><td>a local signature check, no network</td><td>within milliseconds at every API that follows the revocation feed</td><td>APIs called by services, native apps and CLIs</td></tr>
<tr><th scope="row">opaque token</th><td>one introspection round trip (or a feed-evicted cache)</td><td>at once without a cache; within the feed's latency with one</td><td>third parties that must learn nothing from the token</td></tr>
<tr><th scope="row">hybrid</th><td>as JWT</td><td>access tokens as JWT; the refresh family at once</td><td>production: short-lived JWT and a rotating opaque refresh token</td></tr>
</tbody>
</table></div>
<ul>
<li>A web app whose pages and API live on the same site: <strong>session cookies</strong>. Nothing for JavaScript to steal, revocation is instant, nothing to refresh.</li>
<li>A single-page app on another origin: the <strong>BFF</strong> (<code>tessera bff</code>). It keeps the tokens server-side and gives the browser only a hardened cookie.</li>
<li>Native apps, CLIs and service-to-service calls: <strong>JWT access tokens</strong>, verified locally by your APIs, with <strong>rotating refresh tokens</strong>; <strong>opaque tokens</strong> for third parties.</li>
</ul>
<p><a href="/">Back to the start page</a></p>`;

/** GET /guide: the decision guide. */
export function guideRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get("/guide", async (_request, reply) => {
    reply.type("text/html; charset=utf-8");
    const frame = framed(reply, ctx.frame, "/guide");
    return page(GUIDE, { title: "Which mechanism should I use?", ...frame });
  });
}
