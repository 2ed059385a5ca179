/**
 * The few HTML pages Tessera serves. No script and no style at all, so they work under
 * the global CSP (`default-src 'none'; form-action 'self'; frame-ancestors 'none'`).
 * Every dynamic value goes through `escapeHtml`.
 */

import { createHash } from "node:crypto";
import type { FastifyReply } from "fastify";
import { REFERRER_POLICY } from "./security.js";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );
}

/**
 * With `serve --demo`, the demo's navigation and stylesheet around the start page, the
 * account page and the guide (src/demo/frame.ts). Without it, pages have neither.
 */
export interface PageFrame {
  /** The header (trusted HTML) for the page at `path`. */
  header(path: string): string;
  /** The stylesheet's path, on this origin. */
  stylesheet: string;
  /** The framed page's Content-Security-Policy: the server's, plus `style-src 'self'`. */
  csp: string;
}

/** The page options for `path` in `frame` (if any), whose CSP is set on `reply`. */
export function framed(
  reply: FastifyReply,
  frame: PageFrame | undefined,
  path: string,
): { frame?: { frame: PageFrame; path: string } } {
  if (frame === undefined) return {};
  reply.header("content-security-policy", frame.csp);
  return { frame: { frame, path } };
}

/** A whole page around `body` (already HTML); `head` adds trusted markup to <head>. */
export function page(
  body: string,
  options: { title?: string; head?: string; frame?: { frame: PageFrame; path: string } } = {},
): string {
  const title = options.title === undefined ? "Tessera" : `${escapeHtml(options.title)} · Tessera`;
  const f = options.frame;
  const style = f === undefined ? "" : `\n<link rel="stylesheet" href="${f.frame.stylesheet}">`;
  const header = f === undefined ? "" : f.frame.header(f.path);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="referrer" content="${REFERRER_POLICY}">${options.head ?? ""}${style}
<title>${title}</title></head>
<body>${header}<main><h1>Tessera</h1>
${body}
</main></body></html>
`;
}

/**
 * The sign-in form. It posts to /login (same origin); `returnTo` (an authorization
 * request's path and query) brings the browser back there after a successful sign-in.
 */
export function loginForm(
  options: { returnTo?: string; error?: string; username?: string } = {},
): string {
  const error =
    options.error === undefined
      ? ""
      : `<p role="alert"><strong>${escapeHtml(options.error)}</strong></p>\n`;
  const returnTo =
    options.returnTo === undefined
      ? ""
      : `\n<input type="hidden" name="return_to" value="${escapeHtml(options.returnTo)}">`;
  return `${error}<form method="post" action="/login">${returnTo}
<p><label>Username <input name="username" autocomplete="username" required${
    options.username === undefined ? "" : ` value="${escapeHtml(options.username)}"`
  }></label></p>
<p><label>Password <input name="password" type="password" autocomplete="current-password" required></label></p>
<p><label><input name="remember" type="checkbox" value="true"> Remember me</label></p>
<p><button type="submit">Sign in</button></p>
</form>`;
}

/** The sign-in page shown by the authorization endpoint when nobody is signed in. */
export function authorizeLoginPage(options: {
  clientId: string;
  returnTo: string;
  error?: string;
  /** OpenID Connect `login_hint`: the username field's initial value. */
  username?: string | undefined;
}): string {
  const form: { returnTo: string; error?: string; username?: string } = {
    returnTo: options.returnTo,
  };
  if (options.error !== undefined) form.error = options.error;
  if (options.username !== undefined) form.username = options.username;
  return page(
    `<p>Sign in to continue to <strong>${escapeHtml(options.clientId)}</strong>.</p>
${loginForm(form)}`,
    { title: "Sign in" },
  );
}

/**
 * Bounce page for a cross-site navigation that arrived without the (SameSite=Strict)
 * session cookie: a same-origin refresh to the same URL, which the browser sends with
 * the cookie. No script needed; the link is the fallback.
 */
export function sameSiteBouncePage(url: string): string {
  const u = escapeHtml(url);
  return page(`<p><a href="${u}">Continue</a></p>`, {
    title: "Continue",
    head: `\n<meta http-equiv="refresh" content="0;url=${u}">`,
  });
}

/** The consent question: who asks, for what, and two buttons. */
export function consentPage(options: {
  username: string;
  clientId: string;
  scopes: readonly string[];
  interactionId: string;
}): string {
  const scopes =
    options.scopes.length === 0
      ? "<p>No specific permissions (it will only know who you are).</p>"
      : `<p>It asks for:</p>\n<ul>\n${options.scopes
          .map((s) => `<li><code>${escapeHtml(s)}</code></li>`)
          .join("\n")}\n</ul>`;
  return page(
    `<p>Signed in as <strong>${escapeHtml(options.username)}</strong>.</p>
<p>The application <strong>${escapeHtml(options.clientId)}</strong> wants to access your account.</p>
${scopes}
<form method="post" action="/oauth/authorize/decision">
<input type="hidden" name="interaction" value="${escapeHtml(options.interactionId)}">
<p><button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></p>
</form>`,
    { title: "Authorize" },
  );
}

/** An error shown to the user (never redirected). */
export function errorPage(title: string, message: string, code?: string): string {
  const detail = code === undefined ? "" : `\n<p>Error: <code>${escapeHtml(code)}</code></p>`;
  return page(`<h2>${escapeHtml(title)}</h2>\n<p>${escapeHtml(message)}</p>${detail}`, {
    title,
  });
}

/**
 * The one script Tessera serves: it submits the form_post page's form. Allowed by its
 * hash (CSP `script-src 'sha256-…'`), so no other script can run on that page.
 */
const FORM_POST_SCRIPT = "document.forms[0].submit()";
export const FORM_POST_SCRIPT_HASH = `'sha256-${createHash("sha256").update(FORM_POST_SCRIPT).digest("base64")}'`;

/**
 * OAuth 2.0 Form Post Response Mode: the authorization response as a form the browser
 * POSTs to the client's redirect URI at once (a button without JavaScript).
 */
export function formPostPage(action: string, params: Record<string, string>): string {
  const fields = Object.entries(params)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join("\n");
  return page(
    `<form method="post" action="${escapeHtml(action)}">
${fields}
<noscript><p><button type="submit">Continue</button></p></noscript>
</form>
<script>${FORM_POST_SCRIPT}</script>`,
    { title: "Continue" },
  );
}

/** RP-Initiated Logout: "sign out?", asked when the relying party did not prove who it signed in. */
export function endSessionConfirmPage(options: {
  username: string;
  clientId: string | undefined;
  params: Record<string, string>;
}): string {
  const fields = Object.entries(options.params)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join("\n");
  const who =
    options.clientId === undefined
      ? "An application"
      : `The application <strong>${escapeHtml(options.clientId)}</strong>`;
  return page(
    `<p>${who} asks to sign you out of Tessera (signed in as <strong>${escapeHtml(options.username)}</strong>).</p>
<form method="post" action="/end-session">
${fields}
<input type="hidden" name="confirm" value="yes">
<p><button type="submit">Sign out</button></p>
</form>
<p><a href="/">Stay signed in</a></p>`,
    { title: "Sign out" },
  );
}

/** After RP-Initiated Logout with nowhere registered to go back to. */
export function signedOutPage(): string {
  return page("<p>You are signed out.</p>", { title: "Signed out" });
}
