/**
 * A demo single-page app for the BFF (`tessera bff --demo`, or `bffDemoRoutes`): one HTML
 * page, one script and one stylesheet, all from this origin, under a Content-Security-Policy
 * without `unsafe-inline`. The page never sees a token: it asks `/bff/user` who is signed
 * in and calls the first upstream through `/bff/api/NAME/` with `X-CSRF: 1`. Logging in is
 * a link and logging out a form: both work without JavaScript.
 */
import type { FastifyInstance, FastifyReply } from "fastify";

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Where the SPA is mounted, and what it adds to its page. */
export interface BffDemoOptions {
  /** The page's path (default `/`); its script and stylesheet are served beside it. */
  at?: string;
  /** Trusted HTML shown instead of the default header (e.g. a navigation). */
  header?: string;
}

/** The paths of the SPA's page, script and stylesheet. */
export function bffDemoPaths(at = "/"): { page: string; script: string; style: string } {
  const assets = at === "/" ? "/demo" : at.replace(/\/$/, "");
  return { page: at, script: `${assets}/app.js`, style: `${assets}/app.css` };
}

const DEFAULT_HEADER = '<header><p class="brand">Tessera <span>BFF demo</span></p></header>';

const html = (paths: ReturnType<typeof bffDemoPaths>, header: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tessera BFF demo</title>
<link rel="stylesheet" href="${paths.style}">
<script type="module" src="${paths.script}"></script>
</head>
<body>
${header}
<main>
<h1>A single-page app that never sees a token</h1>
<p>The browser holds one cookie, <code>__Host-bff</code>, which JavaScript cannot read. The
tokens stay on the server; this page asks the BFF who you are and calls the API through it.</p>
<section aria-labelledby="who">
<h2 id="who">Who am I</h2>
<p id="status" role="status">Not signed in.</p>
<dl id="user" hidden>
<dt>Subject</dt><dd id="sub"></dd>
<dt>Scope</dt><dd id="scope"></dd>
<dt>Session ends</dt><dd id="expires"></dd>
</dl>
<p class="actions">
<a id="login" class="button" href="/bff/login?return_to=${paths.page}">Log in</a>
</p>
<form id="logout" method="post" action="/bff/logout" hidden>
<button type="submit">Log out</button>
</form>
</section>
<section aria-labelledby="api">
<h2 id="api">Call the API</h2>
<p>A <code>GET</code> to <code>/bff/api/<span id="upstream"></span>/</code>, with
<code>X-CSRF: 1</code>. The BFF adds the bearer token and refreshes it when it is about to expire.</p>
<p><button id="call" type="button" disabled>Call the API</button></p>
<pre id="answer" aria-live="polite"></pre>
</section>
</main>
</body>
</html>
`;

const script = (upstream: string) => `const $ = (id) => document.getElementById(id);
const upstream = ${JSON.stringify(upstream)};
$("upstream").textContent = upstream;

async function who() {
  const res = await fetch("/bff/user", { headers: { "x-csrf": "1" } });
  if (res.status !== 200) {
    $("status").textContent = "Not signed in.";
    $("user").hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("call").disabled = true;
    return;
  }
  const user = await res.json();
  $("status").textContent = "Signed in.";
  $("sub").textContent = user.sub;
  $("scope").textContent = user.scope || "(none)";
  $("expires").textContent = new Date(user.expiresAt).toLocaleString();
  $("user").hidden = false;
  $("logout").hidden = false;
  $("login").hidden = true;
  $("call").disabled = false;
}

$("call").addEventListener("click", async () => {
  const started = performance.now();
  const res = await fetch("/bff/api/" + upstream + "/", { headers: { "x-csrf": "1" } });
  const ms = Math.round(performance.now() - started);
  const text = await res.text();
  $("answer").textContent = res.status + " in " + ms + " ms\\n" + text;
  if (res.status === 401) await who();
});

who();
`;

const CSS = `:root { color-scheme: light dark; --accent: #3558c9; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; }
header { background: var(--accent); color: #fff; padding: 0.5rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: 0.25rem 1.5rem; }
header ul { list-style: none; display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0; padding: 0; }
header a { color: #fff; }
header a[aria-current="page"] { font-weight: 700; text-decoration-thickness: 3px; }
.brand { margin: 0; font-weight: 700; }
.brand span { font-weight: 400; opacity: 0.85; }
main { max-width: 42rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; line-height: 1.25; }
section { border: 1px solid #8884; border-radius: 0.5rem; padding: 0 1rem 1rem; margin: 1rem 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; overflow-wrap: anywhere; }
.button, button { display: inline-block; font: inherit; padding: 0.5rem 1rem; border-radius: 0.375rem;
  border: 1px solid var(--accent); background: var(--accent); color: #fff; text-decoration: none; cursor: pointer; }
button:disabled { opacity: 0.5; cursor: not-allowed; }
a:focus-visible, button:focus-visible { outline: 3px solid #f5a623; outline-offset: 2px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #8881; padding: 0.5rem; border-radius: 0.375rem; min-height: 2rem; }
[hidden] { display: none !important; }
`;

/**
 * Serves the demo SPA at `/` (and `/demo/app.js`, `/demo/app.css`), calling `upstream`;
 * at `options.at` (and `AT/app.js`, `AT/app.css`) when given.
 */
export async function bffDemoRoutes(
  app: FastifyInstance,
  upstream: string,
  options: BffDemoOptions = {},
): Promise<void> {
  const paths = bffDemoPaths(options.at);
  const send = (type: string, body: string) => async (_req: unknown, reply: FastifyReply) =>
    reply
      .header("content-security-policy", CSP)
      .header("x-content-type-options", "nosniff")
      .header("cache-control", "no-store")
      .type(type)
      .send(body);
  app.get(
    paths.page,
    send("text/html; charset=utf-8", html(paths, options.header ?? DEFAULT_HEADER)),
  );
  app.get(paths.script, send("text/javascript; charset=utf-8", script(upstream)));
  app.get(paths.style, send("text/css; charset=utf-8", CSS));
}
