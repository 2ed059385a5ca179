import { createPrivateKey, type KeyObject } from "node:crypto";
import { type AuditRecorder, NO_AUDIT } from "../audit/recorder.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { KeyRecord, KeyStore, SigningAlg } from "../store/types.js";
import { type CompanionKeys, companionAlgs, ensureCompanions, preferred } from "./companion.js";
import type { KeyEncryptionKey } from "./kek.js";
import { newKeyRecord, signer } from "./material.js";

export { ID_TOKEN_ALGS, REQUIRED_ID_TOKEN_ALG } from "./companion.js";
export { jwkThumbprint, RSA_MODULUS_BITS } from "./material.js";

/** What Tessera signs with; the first is the default for new installations. */
export const SIGNING_ALGS: readonly SigningAlg[] = ["ES256", "EdDSA", "RS256"];

export interface SigningKeysOptions {
  /** Algorithm of keys created from now on. */
  alg: SigningAlg;
  /** A new key is published this long before it signs (verifiers' JWKS caches catch up). */
  activationDelayMs: number;
  /** The longest access-token lifetime: a retired key stays published this long. */
  maxTokenTtlMs: number;
  /** Extra time a retired key stays published, for verifiers' clock tolerance. */
  toleranceMs: number;
  /**
   * Keep a key of every other algorithm for ID tokens beside the access-token key (OpenID
   * Connect; `ID_TOKEN_ALGS`, src/keys/companion.ts). Tessera's servers do; default false.
   */
  idTokenCompanion?: boolean;
}

export type KeyState = "pending" | "active" | "retired";

/** A public JWK as published in the JWKS. */
export interface PublicJwk {
  kty: string;
  /** OKP and EC keys. */
  crv?: string;
  x?: string;
  y?: string;
  /** RSA keys. */
  n?: string;
  e?: string;
  kid: string;
  alg: SigningAlg;
  use: "sig";
}

interface LoadedKey {
  record: KeyRecord;
  privateKey: KeyObject;
}

/** The key that signs right now. */
export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  sign(data: Buffer): Buffer;
}

/** What `prepare` did to make the configured algorithm sign. */
export type Preparation =
  | { kind: "kept" }
  | { kind: "created"; key: KeyRecord }
  | { kind: "rotated"; key: KeyRecord; from: SigningAlg }
  | { kind: "pending"; key: KeyRecord };

/**
 * Signing keys: created on first start, rotated on demand, kept in the durable store
 * with their private halves encrypted. Publish-before-sign: a new key is in the JWKS for
 * `activationDelay` before it signs; a retired key stays in the JWKS until every token it
 * signed has expired, then is removed. Every instance reloads the set periodically, so a
 * rotation made by the CLI reaches running servers well before the new key signs.
 */
export class SigningKeys {
  private loaded: LoadedKey[] = [];
  /** The signing key now, per algorithm asked for ("" = the access-token key). */
  private readonly current = new Map<string, { key: SigningKey; until: number }>();

  constructor(
    private readonly store: KeyStore,
    private readonly kek: KeyEncryptionKey,
    private readonly clock: Clock,
    private readonly options: SigningKeysOptions,
    /** The audit trail: every key added (`key_rotated`). */
    private readonly audit: AuditRecorder = NO_AUDIT,
  ) {}

  /**
   * For a process that signs (`serve`): loads the keys and makes sure the configured
   * algorithm signs. No key that signs now or later: one is made, active at once (no
   * verifier knows any key yet). `requested` (the algorithm was asked for, not defaulted)
   * and the newest key has another algorithm: rotates to it, publish-before-sign. An
   * algorithm that merely is the default never replaces existing keys.
   */
  async prepare(requested: boolean): Promise<Preparation> {
    await this.reload();
    const now = this.clock.now();
    const newest = this.newest();
    if (newest === undefined) {
      const key = this.create(this.options.alg, now);
      // Instances starting at once on an empty store: one set of keys (the key and its
      // companions, in one write) wins; the others sign with it.
      const won = await this.store.putFirstKey([key, ...this.companionsFor(key)], now);
      await this.reload();
      if (won) return { kind: "created", key };
      return this.prepare(requested);
    }
    if (!requested || newest.record.alg === this.options.alg) {
      await ensureCompanions(this.companionKeys(), newest.record);
      return newest.record.activatesAt > now
        ? { kind: "pending", key: newest.record }
        : { kind: "kept" };
    }
    const key = await this.rotate(this.options.alg);
    return { kind: "rotated", key, from: newest.record.alg };
  }

  /** Loads the keys and makes the first one (active at once) when none signs now or later. */
  async init(): Promise<void> {
    await this.prepare(false);
  }

  /** Re-reads the key set from the store, dropping keys past `removeAfter`. */
  async reload(): Promise<void> {
    const now = this.clock.now();
    const next: LoadedKey[] = [];
    for (const record of await this.store.listKeys()) {
      if (record.removeAfter !== undefined && record.removeAfter <= now) {
        await this.store.deleteKey(record.kid);
        continue;
      }
      const known = this.loaded.find((k) => k.record.kid === record.kid);
      const privateKey =
        known?.privateKey ??
        createPrivateKey({
          key: this.kek.decrypt(record.privateKeyEnc, record.kid),
          format: "der",
          type: "pkcs8",
        });
      next.push({ record, privateKey });
    }
    this.loaded = next;
    this.current.clear();
  }

  /**
   * Makes a new key that signs after the activation delay; every key still signing
   * retires at that moment. Of `alg`; by default of the newest key's algorithm (a routine
   * rotation changes the key, not the algorithm), or the configured one when there is no
   * key. When no key signs now or later (a fresh installation), the new one signs at
   * once: there is no key for verifiers to move away from.
   */
  async rotate(alg?: SigningAlg): Promise<KeyRecord> {
    const key = await this.addKey(alg);
    await this.audit.record({
      type: "key_rotated",
      details: { kid: key.kid, alg: key.alg, activatesAt: key.activatesAt },
    });
    return key;
  }

  /** `rotate`'s work: the new key, stored (see rotate). */
  private async addKey(alg?: SigningAlg): Promise<KeyRecord> {
    await this.reload();
    const now = this.clock.now();
    const newest = this.newest();
    if (newest === undefined) {
      // No key signs now or later: the new one signs at once, unless another process made
      // one meanwhile (then this becomes an ordinary rotation, publish-before-sign).
      const first = this.create(alg ?? this.options.alg, now);
      if (await this.store.putFirstKey([first, ...this.companionsFor(first)], now)) {
        await this.reload();
        return first;
      }
      return this.addKey(alg);
    }
    const delay = this.options.activationDelayMs;
    const fresh = this.create(alg ?? newest.record.alg, now + delay);
    const retiring = this.loaded
      .map((k) => k.record)
      .filter((r) => r.retiredAt === undefined || r.retiredAt > fresh.activatesAt)
      .map((r) => ({
        ...r,
        retiredAt: fresh.activatesAt,
        removeAfter: fresh.activatesAt + this.options.maxTokenTtlMs + this.options.toleranceMs,
      }));
    await this.store.putKeys([...retiring, fresh, ...this.companionsFor(fresh)]);
    await this.reload();
    return fresh;
  }

  /**
   * The key that signs now: the access-token key, or with `alg` the one of that algorithm
   * (an ID token's: the access-token key when it has that algorithm, else its companion).
   */
  signingKey(alg?: SigningAlg): SigningKey {
    const now = this.clock.now();
    const cached = this.current.get(alg ?? "");
    if (cached !== undefined && now < cached.until) return cached.key;
    const found = this.signingKeyAt(now, alg);
    if (found === undefined) {
      throw new TesseraError(
        "server_error",
        alg === undefined
          ? "No signing key is active; run `tessera keys rotate`."
          : `No ${alg} signing key is active; run \`tessera keys rotate\`.`,
      );
    }
    const { record, privateKey } = found;
    // Cached until the next key activates or this one retires.
    const nextChange = Math.min(
      record.retiredAt ?? Number.POSITIVE_INFINITY,
      ...this.loaded.map((k) => k.record.activatesAt).filter((t) => t > now),
    );
    const key: SigningKey = {
      kid: record.kid,
      alg: record.alg,
      sign: signer(record.alg, privateKey),
    };
    this.current.set(alg ?? "", { key, until: nextChange });
    return key;
  }

  /** Algorithms a key signs with now (the access-token key's first). */
  signingAlgs(): SigningAlg[] {
    const now = this.clock.now();
    const algs = this.loaded
      .filter((k) => this.signingKeyAt(now, k.record.alg)?.record.kid === k.record.kid)
      .map((k) => k.record.alg);
    const primary = this.signingKeyAt(now)?.record.alg;
    return [...new Set([...(primary === undefined ? [] : [primary]), ...algs])];
  }

  /** The companions of a new access-token key: one per other algorithm, activating with it. */
  private companionsFor(key: KeyRecord): KeyRecord[] {
    return companionAlgs(this.options.idTokenCompanion, key.alg).map((alg) =>
      this.create(alg, key.activatesAt, "id_token"),
    );
  }

  /** What src/keys/companion.ts's `ensureCompanions` works on: these keys. */
  private companionKeys(): CompanionKeys {
    return {
      enabled: this.options.idTokenCompanion,
      clock: this.clock,
      records: () => this.loaded.map((k) => k.record),
      signingSince: (now) => this.signingKeyAt(now)?.record.activatesAt,
      add: async (algs, activatesAt) => {
        await this.store.putKeys(algs.map((alg) => this.create(alg, activatesAt, "id_token")));
        await this.reload();
      },
    };
  }

  /** Public keys to publish: every key not yet removed, pending ones included. */
  jwks(): { keys: PublicJwk[] } {
    const now = this.clock.now();
    return {
      keys: this.loaded
        .filter((k) => k.record.removeAfter === undefined || k.record.removeAfter > now)
        .map(({ record }) => ({
          ...(record.publicJwk as { kty: string }),
          kid: record.kid,
          alg: record.alg,
          use: "sig" as const,
        })),
    };
  }

  /** Every stored key with its state now, oldest first. */
  list(): Array<KeyRecord & { state: KeyState }> {
    const now = this.clock.now();
    const signing = this.signingKeyAt(now)?.record.kid;
    const signs = (r: KeyRecord) =>
      r.kid === signing || r.kid === this.signingKeyAt(now, r.alg)?.record.kid;
    return this.loaded.map(({ record }) => ({
      ...record,
      state: signs(record) ? "active" : record.activatesAt > now ? "pending" : "retired",
    }));
  }

  /**
   * The key that signs last: of the keys not retired yet (pending or active) and that
   * will sign at all, the one activating last. (A key replaced before it ever signed, by
   * two rotations in one millisecond, has retiredAt <= activatesAt and is skipped.)
   */
  private newest(): LoadedKey | undefined {
    const now = this.clock.now();
    let best: LoadedKey | undefined;
    for (const k of this.loaded) {
      const r = k.record;
      if (r.retiredAt !== undefined && (r.retiredAt <= now || r.retiredAt <= r.activatesAt)) {
        continue;
      }
      if (best === undefined || preferred(k, best)) best = k;
    }
    return best;
  }

  /**
   * The key signing at `now`: of `alg`, or without it the access-token key (a key of any
   * algorithm but the companion's, when one signs).
   */
  private signingKeyAt(now: number, alg?: SigningAlg): LoadedKey | undefined {
    let best: LoadedKey | undefined;
    for (const k of this.loaded) {
      const r = k.record;
      if (alg !== undefined && r.alg !== alg) continue;
      if (r.activatesAt > now) continue;
      if (r.retiredAt !== undefined && r.retiredAt <= now) continue;
      if (best === undefined || preferred(k, best)) best = k;
    }
    return best;
  }

  private create(alg: SigningAlg, activatesAt: number, purpose?: "id_token"): KeyRecord {
    const key = newKeyRecord(alg, activatesAt, this.kek, this.clock.now());
    if (purpose !== undefined) key.purpose = purpose;
    return key;
  }
}
