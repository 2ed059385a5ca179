/**
 * The guard's in-memory revocation list, filled by the revocation feed.
 *
 * Three maps, each a single `Map#get` per check (no key is built per lookup, no
 * allocation): JWTs by `jti`, subject cutoffs by `sub`, opaque tokens by the base64url
 * SHA-256 of the token. Only entries of the guard's own issuer are kept: the guard refuses
 * every other issuer's tokens anyway, so keying on `jti` / `sub` alone is exact.
 *
 * Every entry is kept until the instant the guard itself starts refusing the token as
 * expired (`exp` plus the clock tolerance) — purging at the bare `exp` would let a revoked
 * token through during the leeway. Entries are never removed early: a snapshot only adds.
 * Expired entries are invisible to lookups at once (each check compares with `now`) and
 * dropped by `purge`, which is O(1) until the earliest entry expires, then one sweep.
 */

/** "Every token of this subject issued before `before` is revoked", relevant until `until`. */
export class SubjectCutoff {
  constructor(
    /** Seconds: tokens with `iat < before` are revoked. */
    public before: number,
    /** ms (guard clock): the entry is dropped from here on. */
    public until: number,
  ) {}
}

export interface RevocationListener {
  /** An opaque token was revoked (evict it from the introspection cache). */
  opaque(hash: string): void;
  /** Tokens of `sub` issued before `before` (seconds) were revoked. */
  subject(sub: string, before: number): void;
}

export interface RevocationCounts {
  jwt: number;
  opaque: number;
  subject: number;
}

export class RevocationStore {
  /** jti → until (ms). */
  private readonly jwt = new Map<string, number>();
  /** base64url SHA-256 of the token → until (ms). */
  private readonly opaque = new Map<string, number>();
  private readonly subject = new Map<string, SubjectCutoff>();
  /** The earliest `until` of any entry (a lower bound after deletions): purge is free before it. */
  private nextPurge = Number.POSITIVE_INFINITY;
  listener: RevocationListener | undefined;

  constructor(
    private readonly issuer: string,
    /** The guard's clock tolerance, ms: entries outlive `exp` by this much. */
    private readonly toleranceMs: number,
  ) {}

  /** Adds a JWT revocation; false if it is irrelevant (another issuer, already expired). */
  addJwt(jti: string, iss: string, exp: number, now: number): boolean {
    if (iss !== this.issuer) return false;
    const until = exp * 1000 + this.toleranceMs;
    if (until <= now) return false;
    const known = this.jwt.get(jti);
    if (known === undefined || known < until) this.jwt.set(jti, until);
    if (until < this.nextPurge) this.nextPurge = until;
    return true;
  }

  addOpaque(hash: string, exp: number, now: number): boolean {
    const until = exp * 1000 + this.toleranceMs;
    if (until <= now) return false;
    const known = this.opaque.get(hash);
    if (known === undefined || known < until) this.opaque.set(hash, until);
    if (until < this.nextPurge) this.nextPurge = until;
    this.listener?.opaque(hash);
    return true;
  }

  addSubject(sub: string, iss: string, before: number, exp: number, now: number): boolean {
    if (iss !== this.issuer) return false;
    const until = exp * 1000 + this.toleranceMs;
    if (until <= now) return false;
    const known = this.subject.get(sub);
    if (known === undefined || known.until <= now) {
      this.subject.set(sub, new SubjectCutoff(before, until));
    } else {
      // The later cutoff covers the earlier one; keep the longer relevance (conservative).
      if (before > known.before) known.before = before;
      if (until > known.until) known.until = until;
    }
    if (until < this.nextPurge) this.nextPurge = until;
    this.listener?.subject(sub, before);
    return true;
  }

  isJwtRevoked(jti: string, now: number): boolean {
    const until = this.jwt.get(jti);
    return until !== undefined && until > now;
  }

  isOpaqueRevoked(hash: string, now: number): boolean {
    const until = this.opaque.get(hash);
    return until !== undefined && until > now;
  }

  /** True if a token of `sub` issued at `iat` (seconds) is cut off. */
  isSubjectRevoked(sub: string, iat: number, now: number): boolean {
    const cutoff = this.subject.get(sub);
    return cutoff !== undefined && iat < cutoff.before && cutoff.until > now;
  }

  /** Drops every entry whose time is up. O(1) until the earliest entry expires. */
  purge(now: number): void {
    if (now < this.nextPurge) return;
    let next = Number.POSITIVE_INFINITY;
    for (const [k, until] of this.jwt) {
      if (until <= now) this.jwt.delete(k);
      else if (until < next) next = until;
    }
    for (const [k, until] of this.opaque) {
      if (until <= now) this.opaque.delete(k);
      else if (until < next) next = until;
    }
    for (const [k, c] of this.subject) {
      if (c.until <= now) this.subject.delete(k);
      else if (c.until < next) next = c.until;
    }
    this.nextPurge = next;
  }

  counts(): RevocationCounts {
    return { jwt: this.jwt.size, opaque: this.opaque.size, subject: this.subject.size };
  }
}
