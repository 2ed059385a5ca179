/**
 * The opaque-token stage: Tessera's opaque access tokens verified by RFC 7662
 * introspection. Its answer goes through the same claim checks as a JWT (plus token_type
 * Bearer) and the same fingerprint check. With the revocation feed live, an active answer
 * is cached (evicted by the feed); an inactive answer, or Tessera's 429 (it gives that only
 * for a token it never issued), is 401 and is remembered briefly. Both caches are keyed by
 * the token's SHA-256, the name the feed uses for opaque tokens.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Admission } from "./admission.js";
import { GenerationalCache } from "./cache.js";
import { type ClaimsPolicy, validateClaims } from "./claims.js";
import { refusal } from "./errors.js";
import type { FeedGate } from "./freshness.js";
import { IntrospectionUnavailable, type Introspector } from "./introspection.js";
import { finiteNow } from "./now.js";
import type { Principal, VerifiedToken } from "./principal.js";

/** An active introspection answer kept for reuse. */
class ActiveEntry {
  constructor(
    readonly entry: VerifiedToken,
    /** ms: not used from this instant (min(now + cacheTtl, exp)). */
    readonly until: number,
  ) {}
}

/** An inactive (or never issued) introspection answer kept for reuse. */
class InactiveEntry {
  constructor(
    readonly reason: "inactive" | "not_issued",
    /** ms: not used from this instant. */
    readonly until: number,
  ) {}
}

export interface OpaqueSettings {
  /** Entries per cache (0: no caches). */
  cacheSize: number;
  /** ms an active answer is cached (with a live feed); 0: never. */
  activeTtlMs: number;
  /** ms an inactive answer is cached; 0: never. */
  inactiveTtlMs: number;
}

export class OpaqueVerifier {
  private readonly active: GenerationalCache<ActiveEntry> | undefined;
  // Dead tokens stay dead: inactive and "not issued" answers are remembered without the
  // feed, in a cache of their own (a flood of junk cannot evict active entries).
  private readonly inactive: GenerationalCache<InactiveEntry> | undefined;
  private readonly realm: string;

  constructor(
    private readonly introspector: Introspector,
    private readonly settings: OpaqueSettings,
    private readonly policy: ClaimsPolicy,
    private readonly admission: Admission,
    private readonly gate: FeedGate | undefined,
    private readonly clock: Clock,
  ) {
    const { cacheSize, activeTtlMs, inactiveTtlMs } = settings;
    this.realm = policy.realm;
    this.active =
      activeTtlMs > 0 && cacheSize > 0 ? new GenerationalCache<ActiveEntry>(cacheSize) : undefined;
    this.inactive =
      inactiveTtlMs > 0 && cacheSize > 0
        ? new GenerationalCache<InactiveEntry>(cacheSize)
        : undefined;
    const active = this.active;
    if (gate !== undefined && active !== undefined) {
      gate.store.listener = {
        opaque: (hash) => active.delete(hash),
        subject: (sub, before) =>
          active.deleteWhere((e) => e.entry.principal.sub === sub && e.entry.iat < before),
      };
    }
  }

  /** Introspection requests started. */
  get requests(): number {
    return this.introspector.requests;
  }

  /** `token`'s principal (`cookie`: the request's Cookie header, for a fingerprint). */
  verify(token: string, cookie: unknown): Promise<Principal> {
    // The feed names opaque tokens by the base64url SHA-256 of the token; so do the caches.
    const hash =
      this.gate === undefined && this.inactive === undefined
        ? ""
        : createHash("sha256").update(token, "latin1").digest("base64url");
    const known = this.remembered(hash, cookie);
    if (known !== undefined) return Promise.resolve(known);
    return this.introspector.introspect(token).then(
      (answer) => this.accept(answer, hash, cookie),
      (err: unknown) => {
        // Fail closed: whatever went wrong, the token is not accepted.
        const retryAfter = err instanceof IntrospectionUnavailable ? err.retryAfter : undefined;
        throw refusal(this.realm, "introspection_unavailable", undefined, err, retryAfter);
      },
    );
  }

  clear(): void {
    this.active?.clear();
    this.inactive?.clear();
  }

  close(): void {
    this.introspector.close();
  }

  /** A cached answer's principal, a refusal (dead, revoked), or undefined: ask the issuer. */
  private remembered(hash: string, cookie: unknown): Principal | undefined {
    const inactive = this.inactive;
    if (inactive !== undefined) {
      const dead = inactive.get(hash);
      if (dead !== undefined) {
        if (finiteNow(this.clock) < dead.until) throw refusal(this.realm, dead.reason);
        inactive.delete(hash);
      }
    }
    const gate = this.gate;
    if (gate === undefined) return undefined;
    const now = finiteNow(this.clock);
    const active = this.active;
    if (gate.store.isOpaqueRevoked(hash, now)) {
      active?.delete(hash);
      throw refusal(this.realm, "revoked");
    }
    if (active === undefined || !gate.live(now)) return undefined;
    const hit = active.get(hash);
    if (hit === undefined) return undefined;
    const e = hit.entry;
    if (now >= hit.until || now >= e.expiresBefore) active.delete(hash);
    else if (gate.store.isSubjectRevoked(e.principal.sub, e.iat, now)) {
      active.delete(hash);
      throw refusal(this.realm, "revoked");
    } else if (now >= e.notBefore) {
      this.admission.fingerprint(e, cookie);
      return e.principal;
    }
    return undefined;
  }

  /** The issuer's answer: a principal, or the refusal (remembered if the token is dead). */
  private accept(
    answer: Record<string, unknown> | false | "not_issued",
    hash: string,
    cookie: unknown,
  ): Principal {
    if (answer === false || answer === "not_issued") {
      // 401 either way: Tessera answers 429 only for a token it never issued, so a
      // flood of junk at this API never turns a dead token's 401 into a 503.
      const reason = answer === false ? "inactive" : "not_issued";
      const until = finiteNow(this.clock) + this.settings.inactiveTtlMs;
      this.inactive?.set(hash, new InactiveEntry(reason, until));
      throw refusal(this.realm, reason);
    }
    const now = finiteNow(this.clock);
    const entry = validateClaims(answer, this.policy, now, "opaque");
    this.admission.fingerprint(entry, cookie);
    const gate = this.gate;
    if (gate !== undefined) {
      // Revoked if either the issuer or the feed says so (an event may have overtaken
      // the answer).
      if (
        gate.store.isOpaqueRevoked(hash, now) ||
        gate.store.isSubjectRevoked(entry.principal.sub, entry.iat, now)
      ) {
        throw refusal(this.realm, "revoked");
      }
      if (this.active !== undefined && gate.live(now)) {
        const until = Math.min(now + this.settings.activeTtlMs, entry.principal.claims.exp * 1000);
        this.active.set(hash, new ActiveEntry(entry, until));
      }
    }
    return entry.principal;
  }
}
