import type { ResponseMode } from "../oidc/request.js";
import type { RedirectTo } from "./authorize-types.js";

/**
 * Appends parameters to a redirect URI, leaving the registered URI (and its query)
 * exactly as it is (RFC 6749 §3.1.2: the query component must be retained).
 */
export function appendQuery(uri: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) query.append(k, v);
  const separator = !uri.includes("?") ? "?" : uri.endsWith("?") || uri.endsWith("&") ? "" : "&";
  return `${uri}${separator}${query.toString()}`;
}

/** The authorization response in the client's response mode. */
export function respond(
  redirectUri: string,
  mode: ResponseMode,
  params: Record<string, string | undefined>,
): RedirectTo {
  if (mode === "query") return { kind: "redirect", location: appendQuery(redirectUri, params) };
  const formPost: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) formPost[k] = v;
  return { kind: "redirect", location: redirectUri, formPost };
}

/** Redirect to the client with `error` (RFC 6749 §4.1.2.1) and `state`, `iss`. */
export function errorRedirect(
  issuer: string,
  redirectUri: string,
  state: string | undefined,
  error: string,
  description: string,
  mode: ResponseMode = "query",
): RedirectTo {
  return respond(redirectUri, mode, {
    error,
    error_description: description,
    state,
    iss: issuer,
  });
}
