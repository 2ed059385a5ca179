import type { Clock } from "../clock.js";
import type { KeyRecord, SigningAlg } from "../store/types.js";

/**
 * OpenID Connect requires ID tokens signed with RS256 to be possible (Core §15.1), whatever
 * the installation signs its access tokens with: beside keys of another algorithm, an
 * RS256 key (the "companion") signs ID tokens only. It rotates with the others: every
 * rotation to a non-RS256 key makes a new companion that activates with it.
 */
export const ID_TOKEN_COMPANION_ALG: SigningAlg = "RS256";

/**
 * Whether `k` beats `best` as the access-token key: the one activating later; of two
 * activating together, not the companion (which activates with the key it accompanies).
 */
export function preferred(k: { record: KeyRecord }, best: { record: KeyRecord }): boolean {
  if (k.record.activatesAt !== best.record.activatesAt) {
    return k.record.activatesAt > best.record.activatesAt;
  }
  return best.record.alg === ID_TOKEN_COMPANION_ALG && k.record.alg !== ID_TOKEN_COMPANION_ALG;
}

/** Whether a new key of `alg` gets a companion (it is enabled, and `alg` is not RS256). */
export function needsCompanion(enabled: boolean | undefined, alg: SigningAlg): boolean {
  return enabled === true && alg !== ID_TOKEN_COMPANION_ALG;
}

/** What `ensureCompanion` needs of the signing keys (src/keys/keys.ts). */
export interface CompanionKeys {
  enabled: boolean | undefined;
  clock: Clock;
  /** The keys loaded now. */
  records(): readonly KeyRecord[];
  reload(): Promise<void>;
  /** When the access-token key signing now activated (none: undefined). */
  signingSince(now: number): number | undefined;
  /** Stores a new key of `alg` activating at `activatesAt`, and reloads. */
  add(alg: SigningAlg, activatesAt: number): Promise<void>;
}

/** True when a live RS256 key (the ID-token companion, or the key itself) is loaded. */
function hasCompanion(keys: CompanionKeys): boolean {
  const now = keys.clock.now();
  return keys
    .records()
    .some(
      (r) => r.alg === ID_TOKEN_COMPANION_ALG && (r.retiredAt === undefined || r.retiredAt > now),
    );
}

/** After losing the first-key race: up to 2 s (real time) for the winner's companion. */
async function awaitCompanion(keys: CompanionKeys): Promise<void> {
  if (keys.enabled !== true) return;
  for (let i = 0; i < 20 && !hasCompanion(keys); i++) {
    await new Promise((r) => setTimeout(r, 100));
    await keys.reload();
  }
}

/**
 * An installation made before OpenID Connect gets a companion, signing at once: no
 * verifier can have cached a key set with an RS256 key it needs. It activates "with" the
 * key signing now (same `activatesAt`), so it never takes that key's place.
 */
export async function ensureCompanion(keys: CompanionKeys, newest: KeyRecord): Promise<void> {
  if (!needsCompanion(keys.enabled, newest.alg)) return;
  if (hasCompanion(keys)) return;
  // A key made a moment ago by another instance: its maker adds the companion right after
  // it; wait for that rather than make a second one.
  if (keys.clock.now() - newest.createdAt < 5000) await awaitCompanion(keys);
  if (hasCompanion(keys)) return;
  const now = keys.clock.now();
  const alongside = keys.signingSince(now) ?? now;
  await keys.add(ID_TOKEN_COMPANION_ALG, Math.min(alongside, now));
}
