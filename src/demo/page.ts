/**
 * The "who am I, four ways" page: one panel per mechanism, the revoke button and its
 * measured result. Plain HTML (forms, no script) under the demo's CSP; every value goes
 * through `escapeHtml`. No token string appears: the JWT is shown decoded, the opaque
 * token by its introspection answer, cookies with their value hidden.
 */
import { escapeHtml } from "../server/pages.js";
import { REFERRER_POLICY } from "../server/security.js";
import type { DemoTokensView } from "./demo.js";
import { DEMO_PAGE, DEMO_SPA, DEMO_STYLESHEET, demoHeader } from "./nav.js";
import type { ApiAnswer, RevocationReport } from "./revoke.js";

/** The value shown in place of a cookie's or a token's secret value. */
export const HIDDEN = "…";

export interface FourWaysInput {
  username: string;
  /** What `GET /session` answers for this session. */
  session: unknown;
  /** The session cookie's Set-Cookie, value hidden. */
  sessionCookie: string;
  /** The fingerprint cookie's Set-Cookie, value hidden. */
  fingerprintCookie: string;
  tokens: DemoTokensView;
}

/** A whole demo page: the shared header, the stylesheet, `body` (trusted HTML). */
export function demoPage(title: string, current: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="${REFERRER_POLICY}">
<link rel="stylesheet" href="${DEMO_STYLESHEET}">
<title>${escapeHtml(title)} · Tessera</title></head>
<body>${demoHeader(current)}
<main>
${body}
</main></body></html>
`;
}

const json = (value: unknown) => `<pre>${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;

function answer(a: ApiAnswer): string {
  if (a.status === 200) return `<span class="ok">${a.status} accepted</span>`;
  const code = a.error === undefined ? "" : ` <code>${escapeHtml(a.error)}</code>`;
  const why = a.description === undefined ? "" : ` (${escapeHtml(a.description)})`;
  return `<span class="refused">${a.status} refused</span>${code}${why}`;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

function reportRow(r: RevocationReport): string {
  const name =
    r.mechanism === "jwt" ? "JWT (local check, revocation feed)" : "opaque token (introspection)";
  const time = r.refused
    ? `<strong>${ms(r.elapsedMs)}</strong> after the revocation was acknowledged (${r.calls} API call${r.calls === 1 ? "" : "s"})`
    : `still accepted after ${r.calls} calls in ${ms(r.elapsedMs)}`;
  return `<tr><th scope="row">${name}</th><td>${answer(r.before)}</td><td>${answer(r.after)}</td><td>${time}</td></tr>`;
}

function revokeSection(revoked: RevocationReport[] | undefined): string {
  const result =
    revoked === undefined
      ? ""
      : `<div class="scroll"><table id="revocation">
<caption>The demo API before and after the revocation</caption>
<thead><tr><th scope="col">token</th><th scope="col">before</th><th scope="col">after</th><th scope="col">time to the first refusal</th></tr></thead>
<tbody>
${revoked.map(reportRow).join("\n")}
</tbody></table></div>
<form class="inline" method="post" action="${DEMO_PAGE}/tokens"><button type="submit" class="secondary">Issue new tokens</button></form>`;
  const button =
    revoked === undefined
      ? `<form class="inline" method="post" action="${DEMO_PAGE}/revoke"><button type="submit">Revoke the JWT and the opaque token</button></form>`
      : "";
  return `<section aria-labelledby="revoke">
<h2 id="revoke">Revoke</h2>
<p>The button revokes both tokens (RFC 7009) and calls the demo API, which checks them with
<code>tessera/guard</code>, before and then back to back after the revocation is acknowledged,
until it refuses. The time is measured on the server around those real HTTP calls.</p>
${button}${result}
</section>`;
}

export function fourWaysPage(input: FourWaysInput): string {
  const { tokens } = input;
  const body = `<h1>Who am I, four ways</h1>
<p>Signed in as <strong>${escapeHtml(input.username)}</strong>. The same person, identified by each
mechanism Tessera offers. The tokens below were issued for you to the demo clients and stay on
the server: this page shows what they say, never the tokens themselves.</p>
<div class="panels">
<section aria-labelledby="p-session">
<h2 id="p-session">1. Session cookie</h2>
<p>The browser holds a random id; the record lives on the server. <code>GET /session</code> answers:</p>
${json(input.session)}
<h3>The cookie</h3>
<p><code>${escapeHtml(input.sessionCookie)}</code></p>
<p>JavaScript cannot read it (<code>HttpOnly</code>), and no other site's request carries it
(<code>SameSite=Strict</code>).</p>
</section>
<section aria-labelledby="p-jwt">
<h2 id="p-jwt">2. JWT access token</h2>
<p>Signed claims, checked locally by the API against the JWKS. Expires in ${tokens.jwt.expiresIn} s.</p>
<h3>Header</h3>
${json(tokens.jwt.header)}
<h3>Claims</h3>
${json(tokens.jwt.claims)}
<h3>Its fingerprint cookie</h3>
<p><code>${escapeHtml(input.fingerprintCookie)}</code></p>
<p>The token carries <code>fgp</code>, the SHA-256 of this cookie's value: the guard refuses the
token without the matching cookie (<code>fingerprint_mismatch</code>), so a stolen token alone is useless.</p>
<p>The demo API answers: ${answer(tokens.jwt.api)}</p>
</section>
<section aria-labelledby="p-opaque">
<h2 id="p-opaque">3. Opaque token</h2>
<p>A random string; the API asks Tessera what it stands for (RFC 7662 introspection):</p>
${json(tokens.opaque.introspection)}
<p>The demo API answers: ${answer(tokens.opaque.api)}</p>
</section>
<section aria-labelledby="p-bff">
<h2 id="p-bff">4. The BFF</h2>
<p>A single-page app that never sees a token: the backend-for-frontend keeps them on the server
and gives the browser one <code>__Host-bff</code> cookie, which JavaScript cannot read. It calls
the same demo API through the BFF.</p>
<p><a class="button" href="${DEMO_SPA}">Open the BFF app</a></p>
</section>
</div>
${revokeSection(tokens.revoked)}`;
  return demoPage("Who am I, four ways", DEMO_PAGE, body);
}
