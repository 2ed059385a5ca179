import { clientActor, NO_AUDIT } from "../../audit/recorder.js";
import { allowedScope, ofCurrentGeneration } from "../../clients/current.js";
import { IdTokens } from "../../oidc/id-token.js";
import type { ClientRecord } from "../../store/types.js";
import { endedByUser } from "../../users/cutoff.js";
import type { FormParams } from "../client-auth.js";
import type { TokenEndpointDeps, TokenResult } from "../token.js";
import { recordIssued } from "../token-audit.js";
import {
  confirmClient,
  fingerprintFor,
  grantScope,
  idTokenFor,
  oauth,
  requireGrant,
  respond,
} from "./shared.js";

/** RFC 6749 §6 with rotation (RFC 9700 §4.14.2). */
export async function refreshToken(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  params: FormParams,
): Promise<TokenResult> {
  requireGrant(client, "refresh_token");
  const presented = params.refresh_token;
  if (presented === undefined) throw oauth("invalid_request", "Missing refresh_token.");
  // Checked before rotating: another client's token is refused without touching it.
  const found = await deps.refresh.lookup(presented);
  if (found === undefined || found.family.clientId !== client.id) {
    throw oauth("invalid_grant", "Invalid refresh token.");
  }
  // A family given to an earlier registration of this client id is not this client's.
  if (!ofCurrentGeneration(client, found.family.clientGeneration)) {
    await deps.refresh.revokeFamily(found.family.id);
    throw oauth("invalid_grant", "Invalid refresh token.");
  }
  // At most what the family was granted and the client may still hand out.
  const scope = grantScope(allowedScope(client, found.family.scope), params.scope);
  if (IdTokens.wanted(client, scope)) deps.idTokens?.assertCanSign(client);
  // A family is as old as its authorization: one created before the user's cutoff is
  // ended by it (even if no revocation reached this store), one created at or after it
  // lives on. The user read here is also the cutoff the new access token is minted under.
  const user = await deps.users.findUserById(found.family.userId);
  if (user === undefined || endedByUser(user, { ms: found.family.createdAt })) {
    await deps.refresh.revokeFamily(found.family.id);
    throw oauth("invalid_grant", "The authorization is no longer valid.");
  }
  const outcome = await deps.refresh.rotate(presented);
  if (outcome.kind === "reused") {
    await (deps.audit ?? NO_AUDIT).record({
      type: "refresh_reuse_detected",
      actor: clientActor(client.id),
      clientId: client.id,
      userId: found.family.userId,
      reason: "family_revoked",
    });
    throw oauth("invalid_grant", "Refresh token reuse detected; the grant is revoked.");
  }
  if (outcome.kind === "invalid") throw oauth("invalid_grant", "Invalid or expired refresh token.");
  const fgp = fingerprintFor(client);
  const access = await deps.access.issue({
    client,
    sub: user.id,
    user,
    scope,
    familyId: outcome.family.id,
    ...(fgp === undefined ? {} : { fgp: fgp.hash }),
  });
  if (!(await deps.refresh.recordAccessToken(outcome.family.id, access.ref))) {
    throw oauth("invalid_grant", "The grant was revoked.");
  }
  await confirmClient(deps, client, access, { id: outcome.family.id, fresh: false });
  // Core §12.2: no nonce; auth_time is not known here (the family keeps no sign-in time).
  const idToken = await idTokenFor(deps, { client, user, scope, accessToken: access.token });
  await recordIssued(deps.audit ?? NO_AUDIT, client, "refresh_token", {
    userId: user.id,
    access,
    scope,
    refresh: true,
    id: idToken !== undefined,
  });
  return respond(access, scope, {
    refreshToken: outcome.token,
    ...(fgp === undefined ? {} : { fingerprint: fgp.value }),
    idToken,
  });
}
