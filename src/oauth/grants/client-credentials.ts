import { NO_AUDIT } from "../../audit/recorder.js";
import type { ClientRecord } from "../../store/types.js";
import type { FormParams } from "../client-auth.js";
import type { TokenEndpointDeps, TokenResult } from "../token.js";
import { recordIssued } from "../token-audit.js";
import { confirmClient, fingerprintFor, grantScope, requireGrant, respond } from "./shared.js";

/** RFC 6749 §4.4: a token for the client itself, at most the scope it is registered for. */
export async function clientCredentials(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  params: FormParams,
): Promise<TokenResult> {
  requireGrant(client, "client_credentials");
  const scope = grantScope(client.scopes, params.scope);
  const fgp = fingerprintFor(client);
  const access = await deps.access.issue({
    client,
    sub: client.id,
    scope,
    ...(fgp === undefined ? {} : { fgp: fgp.hash }),
  });
  await confirmClient(deps, client, access);
  await recordIssued(deps.audit ?? NO_AUDIT, client, "client_credentials", {
    access,
    scope,
    refresh: false,
    id: false,
  });
  return respond(access, scope, fgp === undefined ? {} : { fingerprint: fgp.value });
}
