import type { KeyObject } from "node:crypto";
import type { Clients } from "../clients/clients.js";
import { TesseraError } from "../errors.js";
import type { SigningKeys } from "../keys/keys.js";
import { verifyOwnToken } from "../keys/verify-own.js";
import type { Denylist } from "../tokens/denylist.js";
import { authenticateClient, type FormParams } from "./client-auth.js";

export interface RevocationDeps {
  clients: Clients;
  keys: SigningKeys;
  denylist: Denylist;
  issuer: string;
}

/**
 * POST /oauth/revoke (RFC 7009). The client authenticates; a JWT access token issued to
 * it goes on the denylist as `(jti, iss)` until its `exp`. Unknown, malformed or expired
 * tokens get 200 as the RFC says (§2.2). A token issued to another client is refused.
 * `token_type_hint` is only a hint.
 */
export async function revocationEndpoint(
  deps: RevocationDeps,
  keyCache: Map<string, KeyObject>,
  authorization: string | undefined,
  params: FormParams,
): Promise<void> {
  const client = await authenticateClient(deps.clients, authorization, params);
  const token = params.token;
  if (token === undefined) {
    throw new TesseraError("invalid_request", "Missing token.", { oauthError: "invalid_request" });
  }
  // token_type_hint is ignored: every kind of token is looked for (RFC 7009 §2.1), and an
  // unknown hint is no error.
  const claims = verifyOwnToken(token, deps.keys.jwks(), keyCache);
  if (claims === undefined || claims.iss !== deps.issuer) return;
  if (claims.client_id !== client.id) {
    throw new TesseraError("unauthorized_client", "This token was not issued to you.", {
      oauthError: "unauthorized_client",
    });
  }
  await deps.denylist.add({ jti: claims.jti, iss: claims.iss, exp: claims.exp });
}
