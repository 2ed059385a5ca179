/**
 * The admission stage, on every verify of a JWT (cache hits included: the cache is keyed
 * on the token only): the fingerprint cookie if the token is bound to one, the revocation
 * feed's denylist and failure policy, then the `denylist` option, keyed on (jti, iss).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { DUPLICATE_COOKIE, findCookie } from "../shared/cookies.js";
import { refusal } from "./errors.js";
import type { FeedGate } from "./freshness.js";
import type { Denylist } from "./options.js";
import type { Principal, VerifiedToken } from "./principal.js";

/** A fingerprint cookie value longer than this is not one of Tessera's (43 characters). */
const MAX_FINGERPRINT_CHARS = 512;

/**
 * OWASP token sidejacking: the request's Cookie header must carry exactly one cookie
 * `name` whose SHA-256 is the token's `fgp`. Both sides are 32-byte digests: compared in
 * constant time.
 */
export function checkFingerprint(
  expected: Buffer,
  cookie: unknown,
  name: string,
  realm: string,
): void {
  if (typeof cookie !== "string" || cookie === "") throw refusal(realm, "fingerprint_mismatch");
  const value = findCookie(cookie, name);
  if (
    value === undefined ||
    value === DUPLICATE_COOKIE ||
    value === "" ||
    value.length > MAX_FINGERPRINT_CHARS
  ) {
    throw refusal(realm, "fingerprint_mismatch");
  }
  const digest = createHash("sha256").update(value, "utf8").digest();
  if (!timingSafeEqual(digest, expected)) throw refusal(realm, "fingerprint_mismatch");
}

export class Admission {
  constructor(
    private readonly realm: string,
    /** The fingerprint cookie's name (undefined: such tokens never get this far). */
    private readonly fingerprintCookie: string | undefined,
    private readonly gate: FeedGate | undefined,
    private readonly denylist: Denylist | undefined,
  ) {}

  /** The fingerprint check alone (opaque tokens: the feed's rules differ for them). */
  fingerprint(entry: VerifiedToken, cookie: unknown): void {
    if (entry.fgp !== undefined) {
      checkFingerprint(entry.fgp, cookie, this.fingerprintCookie as string, this.realm);
    }
  }

  /**
   * The principal of an admitted JWT, or the GuardError refusing it. A Promise only when
   * the `denylist` option answers asynchronously.
   */
  admit(entry: VerifiedToken, cookie: unknown, now: number): Principal | Promise<Principal> {
    this.fingerprint(entry, cookie);
    this.gate?.check(entry, now);
    const denylist = this.denylist;
    if (denylist === undefined) return entry.principal;
    const realm = this.realm;
    let answer: boolean | Promise<boolean>;
    try {
      answer = denylist.isRevoked(entry.jti, entry.iss);
    } catch (err) {
      throw refusal(realm, "denylist_unavailable", undefined, err);
    }
    if (answer === false) return entry.principal;
    if (answer === true) throw refusal(realm, "revoked");
    if (typeof (answer as { then?: unknown } | null)?.then === "function") {
      return Promise.resolve(answer).then(
        (revoked) => {
          if (revoked === false) return entry.principal;
          throw refusal(realm, "revoked");
        },
        (err: unknown) => {
          throw refusal(realm, "denylist_unavailable", undefined, err);
        },
      );
    }
    // Anything but `false` fails closed.
    throw refusal(realm, "revoked");
  }
}
