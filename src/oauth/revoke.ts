import { type AuditRecorder, clientActor, NO_AUDIT } from "../audit/recorder.js";
import type { Clients } from "../clients/clients.js";
import { TesseraError } from "../errors.js";
import type { AccessTokens } from "../tokens/access.js";
import type { JwtDenylist } from "../tokens/denylist.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import { authenticateClient, type FormParams } from "./client-auth.js";
import type { TokenIdentifier } from "./identify.js";

export interface RevocationDeps {
  clients: Clients;
  tokens: TokenIdentifier;
  denylist: JwtDenylist;
  access: AccessTokens;
  refresh: RefreshTokens;
  /** The audit trail: each token revoked (its kind and a JWT's jti, never the token). */
  audit?: AuditRecorder;
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
  authorization: string | undefined,
  params: FormParams,
): Promise<void> {
  const client = await authenticateClient(deps.clients, authorization, params, true);
  const token = params.token;
  if (token === undefined) {
    throw new TesseraError("invalid_request", "Missing token.", { oauthError: "invalid_request" });
  }
  const found = await deps.tokens.identify(token);
  if (found === undefined) return;
  const revoked = (kind: string, userId: string | undefined, jti?: string) =>
    (deps.audit ?? NO_AUDIT).record({
      type: "token_revoked",
      actor: clientActor(client.id),
      clientId: client.id,
      userId,
      details: { kind, jti },
    });
  switch (found.kind) {
    case "forged":
      return;
    case "opaque":
      if (found.data.clientId !== client.id) throw notYours();
      await deps.access.destroyOpaque(found.key, found.data.exp);
      deps.tokens.forget(token);
      await revoked("access", found.data.userId);
      return;
    case "refresh":
      if (found.family.clientId !== client.id) throw notYours();
      await deps.refresh.revokeFamily(found.family.id);
      await revoked("refresh", found.family.userId);
      return;
    case "jwt":
      if (found.claims.client_id !== client.id) throw notYours();
      await deps.denylist.add({
        jti: found.claims.jti,
        iss: found.claims.iss,
        exp: found.claims.exp,
      });
      await revoked(
        "access",
        found.claims.sub === client.id ? undefined : found.claims.sub,
        found.claims.jti,
      );
      return;
  }
}
