import type { KeyObject } from "node:crypto";
import type { Clients } from "../clients/clients.js";
import { TesseraError } from "../errors.js";
import type { SigningKeys } from "../keys/keys.js";
import { verifyOwnToken } from "../keys/verify-own.js";
import type { AccessTokens } from "../tokens/access.js";
import type { Denylist } from "../tokens/denylist.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import { authenticateClient, type FormParams } from "./client-auth.js";

export interface RevocationDeps {
  clients: Clients;
  keys: SigningKeys;
  denylist: Denylist;
  access: AccessTokens;
  refresh: RefreshTokens;
  issuer: string;
}

function notYours(): TesseraError {
  return new TesseraError("unauthorized_client", "This token was not issued to you.", {
    oauthError: "unauthorized_client",
  });
}

/**
 * POST /oauth/revoke (RFC 7009). The client authenticates (a public client by its
 * `client_id`); then, whatever the token is:
 * - opaque access token: deleted;
 * - refresh token: its whole family is revoked, with every access token issued from it
 *   (opaque ones deleted, JWTs denylisted by jti);
 * - JWT access token: `(jti, iss)` on the denylist until its `exp`.
 * Unknown, malformed or expired tokens get 200 (§2.2). A token issued to another client
 * is refused. `token_type_hint` is only a hint: every kind is looked for.
 */
export async function revocationEndpoint(
  deps: RevocationDeps,
  keyCache: Map<string, KeyObject>,
  authorization: string | undefined,
  params: FormParams,
): Promise<void> {
  const client = await authenticateClient(deps.clients, authorization, params, true);
  const token = params.token;
  if (token === undefined) {
    throw new TesseraError("invalid_request", "Missing token.", { oauthError: "invalid_request" });
  }
  const opaque = await deps.access.findOpaque(token);
  if (opaque !== undefined) {
    if (opaque.data.clientId !== client.id) throw notYours();
    await deps.access.destroyOpaque(opaque.key, opaque.data.exp);
    return;
  }
  const refresh = await deps.refresh.lookup(token);
  if (refresh !== undefined) {
    if (refresh.family.clientId !== client.id) throw notYours();
    await deps.refresh.revokeFamily(refresh.family.id);
    return;
  }
  const claims = verifyOwnToken(token, deps.keys.jwks(), keyCache);
  if (claims === undefined || claims.iss !== deps.issuer) return;
  if (claims.client_id !== client.id) throw notYours();
  await deps.denylist.add({ jti: claims.jti, iss: claims.iss, exp: claims.exp });
}
