import type { AuditRecorder } from "../audit/recorder.js";
import type { Clients } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import type { IdTokenStep } from "../oidc/token-step.js";
import type { ConsentStore, UserStore } from "../store/types.js";
import type { AccessTokens } from "../tokens/access.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import { authenticateClient, type FormParams } from "./client-auth.js";
import type { AuthorizationCodes } from "./codes.js";
import { authorizationCode } from "./grants/authorization-code.js";
import { clientCredentials } from "./grants/client-credentials.js";
import { refreshToken } from "./grants/refresh-token.js";
import { oauth } from "./grants/shared.js";

export { grantScope } from "./grants/shared.js";

// One file per grant under ./grants/, the steps they share in ./grants/shared.ts.

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  /** OpenID Connect: for an OIDC client granted `openid` (src/oidc/id-token.ts). */
  id_token?: string;
}

export interface TokenResult {
  body: TokenResponse;
  /** For fingerprint-bound clients: the `__Host-fgp` cookie value to set. */
  fingerprint?: { value: string; maxAge: number };
}

export interface TokenEndpointDeps {
  clients: Clients;
  users: UserStore;
  consents: ConsentStore;
  codes: AuthorizationCodes;
  access: AccessTokens;
  refresh: RefreshTokens;
  clock: Clock;
  /** OpenID Connect's step: an ID token beside the access token, where one is wanted. */
  idTokens?: IdTokenStep;
  /** The audit trail: each token issued, a refresh token's reuse (never a token). */
  audit?: AuditRecorder;
}

/** POST /oauth/token: authenticate the client, then run the grant's steps. */
export async function tokenEndpoint(
  deps: TokenEndpointDeps,
  authorization: string | undefined,
  params: FormParams,
): Promise<TokenResult> {
  const grantType = params.grant_type;
  if (grantType === undefined) throw oauth("invalid_request", "Missing grant_type.");
  const publicAllowed = grantType === "authorization_code" || grantType === "refresh_token";
  const client = await authenticateClient(deps.clients, authorization, params, publicAllowed);
  switch (grantType) {
    case "client_credentials":
      return clientCredentials(deps, client, params);
    case "authorization_code":
      return authorizationCode(deps, client, params);
    case "refresh_token":
      return refreshToken(deps, client, params);
    default:
      throw oauth("unsupported_grant_type", "Unsupported grant_type.");
  }
}
