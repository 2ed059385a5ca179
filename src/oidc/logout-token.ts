import { idTokenAlgOf } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import { randomId } from "../crypto/random.js";
import type { SigningKeys } from "../keys/keys.js";
import type { ClientRecord } from "../store/types.js";

/** The event a logout token carries (Back-Channel Logout 1.0 §2.4). */
export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
/** A logout token is short-lived: relying parties check `iat`/`exp` and replay by `jti`. */
export const LOGOUT_TOKEN_TTL_S = 120;

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

/**
 * A logout token (Back-Channel Logout 1.0 §2.4): `typ: logout+jwt`, for the client (`aud`),
 * naming the user (`sub`) and the session (`sid`), signed as the client's ID tokens are.
 * Never a `nonce` (so it can never pass for an ID token).
 */
export function logoutToken(
  keys: SigningKeys,
  clock: Clock,
  issuer: string,
  client: ClientRecord,
  subject: { sub: string; sid?: string },
): string {
  const key = keys.signingKey(idTokenAlgOf(client));
  const iat = Math.floor(clock.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: issuer,
    sub: subject.sub,
    aud: client.id,
    iat,
    exp: iat + LOGOUT_TOKEN_TTL_S,
    jti: randomId(),
    events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
  };
  if (subject.sid !== undefined) claims.sid = subject.sid;
  const input = `${b64({ alg: key.alg, typ: "logout+jwt", kid: key.kid })}.${b64(claims)}`;
  return `${input}.${key.sign(Buffer.from(input, "ascii")).toString("base64url")}`;
}
