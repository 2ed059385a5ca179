/**
 * The demo's frame around the server's own pages (start, account, guide) with `--demo`:
 * its navigation and stylesheet, under the server's CSP plus `style-src 'self'`.
 */
import type { PageFrame } from "../server/pages.js";
import { DEMO_STYLESHEET, demoHeader } from "./nav.js";

/** The demo pages' policy: the server's, plus stylesheets from this origin. No script. */
export const DEMO_CSP =
  "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export const DEMO_FRAME: PageFrame = {
  header: demoHeader,
  stylesheet: DEMO_STYLESHEET,
  csp: DEMO_CSP,
};
