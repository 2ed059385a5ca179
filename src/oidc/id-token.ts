import { createHash } from "node:crypto";
import { idTokenAlgOf } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { SigningKeys } from "../keys/keys.js";
import type { ClientRecord, SigningAlg, UserRecord } from "../store/types.js";
import { userClaims } from "./claims.js";

export interface IdTokenOptions {
  issuer: string;
  /** Seconds an ID token is valid (never longer than the longest access token). */
  ttlSeconds: number;
}

/** What an ID token is issued for. */
export interface IdTokenInput {
  client: ClientRecord;
  user: UserRecord;
  scope: readonly string[];
  /** The access token issued with it (for `at_hash`). */
  accessToken: string;
  /** The authorization request's nonce, echoed (absent on refresh, Core §12.2). */
  nonce?: string | undefined;
  /** When the user authenticated (epoch ms); absent: not known (a refresh). */
  authTime?: number | undefined;
  /** The Tessera session's public id (`sid`, for back-channel logout); absent on refresh. */
  sid?: string | undefined;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

/**
 * `at_hash` (Core §3.1.3.6): the left half of the access token's hash, with the hash of
 * the ID token's algorithm: SHA-256 for RS256 and ES256; SHA-512 for EdDSA over Ed25519
 * (as the OpenID Foundation's EdDSA registration says).
 */
export function atHash(accessToken: string, alg: SigningAlg): string {
  const digest = createHash(alg === "EdDSA" ? "sha512" : "sha256")
    .update(accessToken, "ascii")
    .digest();
  return digest.subarray(0, digest.length / 2).toString("base64url");
}

/**
 * ID tokens (OpenID Connect Core §2): for the client (`aud`, `azp`), signed with its
 * `id_token_signed_response_alg` (RS256 unless registered otherwise), `typ: JWT` so no
 * verifier of access tokens (`at+jwt`) ever takes one for an access token. The claims of
 * the granted scope go in too (relying parties such as oauth2-proxy read `email` there).
 */
export class IdTokens {
  constructor(
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly options: IdTokenOptions,
  ) {}

  issue(input: IdTokenInput): string {
    const key = this.keys.signingKey(idTokenAlgOf(input.client));
    const iat = Math.floor(this.clock.now() / 1000);
    const claims: Record<string, unknown> = {
      iss: this.options.issuer,
      ...userClaims(input.user, input.scope),
      aud: input.client.id,
      azp: input.client.id,
      exp: iat + this.options.ttlSeconds,
      iat,
    };
    if (input.authTime !== undefined) claims.auth_time = Math.floor(input.authTime / 1000);
    if (input.nonce !== undefined) claims.nonce = input.nonce;
    if (input.sid !== undefined) claims.sid = input.sid;
    claims.at_hash = atHash(input.accessToken, key.alg);
    const signingInput = `${b64({ alg: key.alg, typ: "JWT", kid: key.kid })}.${b64(claims)}`;
    const signature = key.sign(Buffer.from(signingInput, "ascii")).toString("base64url");
    return `${signingInput}.${signature}`;
  }

  /**
   * Refuses, before anything is issued, a grant whose ID token could not be signed: no key
   * of the client's algorithm signs now. A server makes a key of every algorithm
   * (src/keys/companion.ts), so only keys removed by hand from the store get here.
   */
  assertCanSign(client: ClientRecord): void {
    const alg = idTokenAlgOf(client);
    if (this.keys.signingAlgs().includes(alg)) return;
    throw new TesseraError(
      "server_error",
      `No ${alg} key signs ID tokens here: restart the server (it makes the missing keys) or register client ${client.id} with another --id-token-alg.`,
    );
  }

  /** Whether a grant of `scope` to `client` gets an ID token. */
  static wanted(client: ClientRecord, scope: readonly string[]): boolean {
    return client.oidc === true && scope.includes("openid");
  }
}
