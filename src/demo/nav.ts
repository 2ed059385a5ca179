/**
 * The demo's pages share one header: the name and a navigation between the start page,
 * the four-ways page, the BFF's single-page app, the account page and the decision guide.
 */
import { escapeHtml } from "../server/pages.js";

export const DEMO_PAGE = "/demo";
export const DEMO_SPA = "/demo/spa";
export const DEMO_STYLESHEET = "/demo/style.css";

export const DEMO_NAV: ReadonlyArray<{ href: string; label: string }> = [
  { href: "/", label: "Home" },
  { href: DEMO_PAGE, label: "Who am I, four ways" },
  { href: DEMO_SPA, label: "BFF app" },
  { href: "/account", label: "Sessions and devices" },
  { href: "/guide", label: "Which mechanism?" },
];

/** The header with the navigation; `current` is marked `aria-current="page"`. */
export function demoHeader(current: string): string {
  const items = DEMO_NAV.map(({ href, label }) => {
    const here = href === current ? ' aria-current="page"' : "";
    return `<li><a href="${escapeHtml(href)}"${here}>${escapeHtml(label)}</a></li>`;
  }).join("");
  return `<header class="bar"><p class="brand">Tessera <span>demo</span></p>
<nav aria-label="Demo"><ul>${items}</ul></nav></header>`;
}
