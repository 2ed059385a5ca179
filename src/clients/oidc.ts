/**
 * The OpenID Connect part of a client's registration (src/clients/clients.ts checks the
 * rest): the ID token algorithm and the logout URIs, for `add` and `update`.
 */
import { TesseraError } from "../errors.js";
import { SIGNING_ALGS } from "../keys/keys.js";
import type { ClientRecord, SigningAlg } from "../store/types.js";
import type { ClientChanges, NewClient } from "./clients.js";
import { checkRedirectUri } from "./uris.js";

function invalid(message: string): TesseraError {
  return new TesseraError("invalid_request", message);
}

/** The algorithm of a client's ID tokens (OpenID Connect Core §3.1.3.7: RS256 by default). */
export function idTokenAlgOf(c: ClientRecord): SigningAlg {
  return c.idTokenAlg ?? "RS256";
}

/** The scope an OpenID Connect request must carry, and that every OIDC client may ask for. */
export const OPENID_SCOPE = "openid";

/** `update`'s `idTokenAlg`: a new one, kept, or (`null`) back to the default. */
export function idTokenAlgChange(
  changes: ClientChanges,
  before: ClientRecord,
): { idTokenAlg?: string } {
  if (changes.idTokenAlg === null) return {};
  // No longer an OIDC client: its ID token algorithm goes with it unless given anew.
  if (changes.oidc === false && changes.idTokenAlg === undefined) return {};
  const alg = changes.idTokenAlg ?? before.idTokenAlg;
  return alg === undefined ? {} : { idTokenAlg: alg };
}

/** `update`'s back-channel URI: a new one, kept, or (`null`, `--no-oidc`) none. */
export function backchannelChange(
  changes: ClientChanges,
  before: ClientRecord,
): { backchannelLogoutUri?: string } {
  if (changes.backchannelLogoutUri === null) return {};
  if (changes.oidc === false && changes.backchannelLogoutUri === undefined) return {};
  const uri = changes.backchannelLogoutUri ?? before.backchannelLogoutUri;
  return uri === undefined ? {} : { backchannelLogoutUri: uri };
}

/** The logout URIs of an OIDC client: checked as redirect URIs are (https but loopback). */
export function checkLogoutUris(input: NewClient): {
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | undefined;
} {
  const post = [...new Set(input.postLogoutRedirectUris ?? [])];
  const back = input.backchannelLogoutUri;
  if ((post.length > 0 || back !== undefined) && input.oidc !== true) {
    throw invalid("Logout URIs are for OpenID Connect clients (--oidc).");
  }
  return {
    postLogoutRedirectUris: post.map(checkRedirectUri),
    backchannelLogoutUri: back === undefined ? undefined : checkBackchannelUri(back),
  };
}

/** Back-Channel Logout §2.2: an absolute https URL (http for loopback), no fragment. */
function checkBackchannelUri(uri: string): string {
  checkRedirectUri(uri);
  if (!/^https?:$/.test(new URL(uri).protocol)) {
    throw invalid("The back-channel logout URI must be an https URL (http only for loopback).");
  }
  return uri;
}

/** An ID token algorithm is for an OIDC client of the code flow, and one Tessera signs with. */
export function checkIdTokenAlg(input: NewClient, grants: string[]): SigningAlg | undefined {
  if (input.oidc === true && !grants.includes("authorization_code")) {
    throw invalid(
      "--oidc needs the authorization_code grant (ID tokens come from a user's sign-in).",
    );
  }
  if (input.idTokenAlg === undefined) return undefined;
  if (input.oidc !== true) throw invalid("--id-token-alg is for OpenID Connect clients (--oidc).");
  if (!SIGNING_ALGS.includes(input.idTokenAlg as SigningAlg)) {
    throw invalid(`Unsupported --id-token-alg; supported: ${SIGNING_ALGS.join(", ")}.`);
  }
  return input.idTokenAlg as SigningAlg;
}
