/**
 * A JWT as the demo page shows it: its protected header and claims, decoded (not
 * verified: the demo API verifies). The token string itself is never shown.
 */
import { decodeJwt, decodeProtectedHeader } from "jose";

export interface JwtView {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
}

export function viewJwt(token: string): JwtView {
  return {
    header: { ...decodeProtectedHeader(token) },
    claims: { ...decodeJwt(token) },
  };
}
