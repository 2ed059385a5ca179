import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from "node:crypto";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { KeyRecord, KeyStore, SigningAlg } from "../store/types.js";
import type { KeyEncryptionKey } from "./kek.js";

export const SIGNING_ALGS: readonly SigningAlg[] = ["EdDSA", "ES256"];

export interface SigningKeysOptions {
  /** Algorithm of keys created from now on. */
  alg: SigningAlg;
  /** A new key is published this long before it signs (verifiers' JWKS caches catch up). */
  activationDelayMs: number;
  /** The longest access-token lifetime: a retired key stays published this long. */
  maxTokenTtlMs: number;
  /** Extra time a retired key stays published, for verifiers' clock tolerance. */
  toleranceMs: number;
}

export type KeyState = "pending" | "active" | "retired";

/** A public JWK as published in the JWKS. */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  y?: string;
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

/** RFC 7638 JWK thumbprint (SHA-256, base64url): the kid of every key Tessera makes. */
export function jwkThumbprint(jwk: Record<string, string | undefined>): string {
  const members =
    jwk.kty === "EC"
      ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }
      : { crv: jwk.crv, kty: jwk.kty, x: jwk.x };
  return createHash("sha256").update(JSON.stringify(members)).digest("base64url");
}

function generate(alg: SigningAlg): KeyObject {
  return alg === "EdDSA"
    ? generateKeyPairSync("ed25519").privateKey
    : generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

function signer(alg: SigningAlg, key: KeyObject): (data: Buffer) => Buffer {
  return alg === "EdDSA"
    ? (data) => sign(null, data, key)
    : (data) => sign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
}

/**
 * Signing keys: created on first start, rotated on demand, kept in the durable store
 * with their private halves encrypted. Publish-before-sign: a new key is in the JWKS for
 * `activationDelay` before it signs; a retired key stays in the JWKS until every token it
 * signed has expired, then is removed. Every instance reloads the set periodically, so a
 * rotation made by the CLI reaches running servers well before the new key signs.
 */
export class SigningKeys {
  private loaded: LoadedKey[] = [];
  private current: { key: SigningKey; until: number } | undefined;

  constructor(
    private readonly store: KeyStore,
    private readonly kek: KeyEncryptionKey,
    private readonly clock: Clock,
    private readonly options: SigningKeysOptions,
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
      await this.store.putKeys([key]);
      await this.reload();
      return { kind: "created", key };
    }
    if (!requested || newest.record.alg === this.options.alg) {
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
    this.current = undefined;
  }

  /**
   * Makes a new key that signs after the activation delay; every key still signing
   * retires at that moment. Of `alg`; by default of the newest key's algorithm (a routine
   * rotation changes the key, not the algorithm), or the configured one when there is no
   * key. When no key signs now or later (a fresh installation), the new one signs at
   * once: there is no key for verifiers to move away from.
   */
  async rotate(alg?: SigningAlg): Promise<KeyRecord> {
    await this.reload();
    const now = this.clock.now();
    const newest = this.newest();
    const delay = newest === undefined ? 0 : this.options.activationDelayMs;
    const fresh = this.create(alg ?? newest?.record.alg ?? this.options.alg, now + delay);
    const retiring = this.loaded
      .map((k) => k.record)
      .filter((r) => r.retiredAt === undefined || r.retiredAt > fresh.activatesAt)
      .map((r) => ({
        ...r,
        retiredAt: fresh.activatesAt,
        removeAfter: fresh.activatesAt + this.options.maxTokenTtlMs + this.options.toleranceMs,
      }));
    await this.store.putKeys([...retiring, fresh]);
    await this.reload();
    return fresh;
  }

  /** The key that signs now. */
  signingKey(): SigningKey {
    const now = this.clock.now();
    if (this.current !== undefined && now < this.current.until) return this.current.key;
    const found = this.signingKeyAt(now);
    if (found === undefined) {
      throw new TesseraError(
        "server_error",
        "No signing key is active; run `tessera keys rotate`.",
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
    this.current = { key, until: nextChange };
    return key;
  }

  /** Public keys to publish: every key not yet removed, pending ones included. */
  jwks(): { keys: PublicJwk[] } {
    const now = this.clock.now();
    return {
      keys: this.loaded
        .filter((k) => k.record.removeAfter === undefined || k.record.removeAfter > now)
        .map(({ record }) => ({
          ...(record.publicJwk as { kty: string; crv: string; x: string; y?: string }),
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
    return this.loaded.map(({ record }) => ({
      ...record,
      state: record.kid === signing ? "active" : record.activatesAt > now ? "pending" : "retired",
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
      if (best === undefined || r.activatesAt >= best.record.activatesAt) best = k;
    }
    return best;
  }

  private signingKeyAt(now: number): LoadedKey | undefined {
    let best: LoadedKey | undefined;
    for (const k of this.loaded) {
      const r = k.record;
      if (r.activatesAt > now) continue;
      if (r.retiredAt !== undefined && r.retiredAt <= now) continue;
      if (best === undefined || r.activatesAt > best.record.activatesAt) best = k;
    }
    return best;
  }

  private create(alg: SigningAlg, activatesAt: number): KeyRecord {
    const privateKey = generate(alg);
    const jwk = createPublicKey(privateKey).export({ format: "jwk" }) as Record<string, string>;
    const publicJwk: Record<string, string> =
      jwk.kty === "EC"
        ? { kty: "EC", crv: jwk.crv as string, x: jwk.x as string, y: jwk.y as string }
        : { kty: "OKP", crv: jwk.crv as string, x: jwk.x as string };
    const kid = jwkThumbprint(publicJwk);
    const der = privateKey.export({ format: "der", type: "pkcs8" });
    return {
      kid,
      alg,
      publicJwk,
      privateKeyEnc: this.kek.encrypt(der, kid),
      createdAt: this.clock.now(),
      activatesAt,
    };
  }
}
