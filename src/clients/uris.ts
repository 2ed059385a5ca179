import { TesseraError } from "../errors.js";

/**
 * A URI a browser is sent to (redirect URIs, post-logout redirect URIs) or a server
 * POSTs to (back-channel logout): absolute, no fragment, https but for loopback, never a
 * script or data scheme. Compared by exact string afterwards.
 */
export function checkRedirectUri(uri: string): string {
  const invalid = (message: string) => new TesseraError("invalid_request", message);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid("Redirect URIs must be absolute URLs.");
  }
  if (url.hash !== "")
    throw invalid("Redirect URIs must not contain a fragment (RFC 6749 §3.1.2).");
  const loopback =
    url.hostname === "localhost" || url.hostname === "127.0.0.1" || url.hostname === "[::1]";
  if (url.protocol === "http:" && !loopback) {
    throw invalid("Redirect URIs must use https (http only for loopback).");
  }
  if (url.protocol === "javascript:" || url.protocol === "data:")
    throw invalid("Unsafe redirect URI scheme.");
  return uri;
}
