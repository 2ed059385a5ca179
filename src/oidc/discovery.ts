import type { SigningAlg } from "../store/types.js";
import { CLAIMS_SUPPORTED, OIDC_SCOPES } from "./claims.js";
import { END_SESSION_PATH } from "./end-session.js";

/** Where the OpenID Connect endpoints live, relative to the issuer. */
export const USERINFO_PATH = "/userinfo";

/**
 * OpenID Connect Discovery 1.0 §3: the RFC 8414 document (`oauth`, the same values for
 * every field both define) plus what a relying party needs to know of the OpenID
 * Provider. `idTokenAlgs`: what ID tokens can be signed with now (every algorithm: src/keys/companion.ts).
 */
export function openidConfiguration(
  issuer: string,
  oauth: Record<string, unknown>,
  idTokenAlgs: readonly SigningAlg[],
): Record<string, unknown> {
  return {
    ...oauth,
    userinfo_endpoint: `${issuer}${USERINFO_PATH}`,
    end_session_endpoint: `${issuer}${END_SESSION_PATH}`,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: true,
    scopes_supported: [...OIDC_SCOPES],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [...idTokenAlgs],
    claims_supported: CLAIMS_SUPPORTED,
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
    prompt_values_supported: ["none", "login", "consent", "select_account"],
  };
}
