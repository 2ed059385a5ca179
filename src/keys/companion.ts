import type { Clock } from "../clock.js";
import type { KeyRecord, SigningAlg } from "../store/types.js";

/**
 * ID tokens in every algorithm Tessera signs with. OpenID Connect requires RS256 to be
 * possible (Core §15.1) and lets each client ask for another (`id_token_signed_response_alg`),
 * whatever the installation signs its access tokens with. So beside the access-token key,
 * a key of each other algorithm (a "companion", `purpose: "id_token"`) signs ID tokens only.
 * Companions are made with the key they accompany, in the same write, activate with it
 * (publish before sign) and retire with it.
 */
export const ID_TOKEN_ALGS: readonly SigningAlg[] = ["ES256", "EdDSA", "RS256"];

/** The algorithm OpenID Connect requires an OP to sign ID tokens with (Core §15.1). */
export const REQUIRED_ID_TOKEN_ALG: SigningAlg = "RS256";

/** Whether `record` is a companion: it signs ID tokens only. */
export function isCompanion(record: KeyRecord): boolean {
  return record.purpose === "id_token";
}

/**
 * Whether `k` beats `best` as the key that signs: the one activating later; of two
 * activating together, not the companion (which activates with the key it accompanies).
 */
export function preferred(k: { record: KeyRecord }, best: { record: KeyRecord }): boolean {
  if (k.record.activatesAt !== best.record.activatesAt) {
    return k.record.activatesAt > best.record.activatesAt;
  }
  return isCompanion(best.record) && !isCompanion(k.record);
}

/** The algorithms a new access-token key of `alg` gets companions of (none when disabled). */
export function companionAlgs(enabled: boolean | undefined, alg: SigningAlg): SigningAlg[] {
  return enabled === true ? ID_TOKEN_ALGS.filter((a) => a !== alg) : [];
}

/** What `ensureCompanions` needs of the signing keys (src/keys/keys.ts). */
export interface CompanionKeys {
  enabled: boolean | undefined;
  clock: Clock;
  /** The keys loaded now. */
  records(): readonly KeyRecord[];
  /** When the access-token key signing now activated (none: undefined). */
  signingSince(now: number): number | undefined;
  /** Stores new companions of `algs` activating at `activatesAt` (one write), and reloads. */
  add(algs: SigningAlg[], activatesAt: number): Promise<void>;
}

/**
 * An installation made before a companion existed for every algorithm (before OpenID
 * Connect, or when only RS256 had one) gets the missing ones, signing at once: no client
 * could ask for an algorithm no key signed, so no verifier has a key set it would miss one
 * from. They activate "with" the key signing now (same `activatesAt`), so they never take
 * its place. Two instances doing this at once publish two companions of an algorithm:
 * harmless (both valid, one signs).
 */
export async function ensureCompanions(keys: CompanionKeys, newest: KeyRecord): Promise<void> {
  const now = keys.clock.now();
  const live = new Set(
    keys
      .records()
      .filter((r) => r.retiredAt === undefined || r.retiredAt > now)
      .map((r) => r.alg),
  );
  const missing = companionAlgs(keys.enabled, newest.alg).filter((a) => !live.has(a));
  if (missing.length === 0) return;
  const alongside = keys.signingSince(now) ?? now;
  await keys.add(missing, Math.min(alongside, now));
}
