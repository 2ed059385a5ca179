import type { KeyRecord, KeyStore, SigningAlg } from "../types.js";
import type { Db } from "./db.js";

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_key_enc: string;
  created_at: number;
  activates_at: number;
  retired_at: number | null;
  remove_after: number | null;
}

function toKey(row: KeyRow): KeyRecord {
  const k: KeyRecord = {
    kid: row.kid,
    alg: row.alg as SigningAlg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, string>,
    privateKeyEnc: row.private_key_enc,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
  };
  if (row.retired_at !== null) k.retiredAt = row.retired_at;
  if (row.remove_after !== null) k.removeAfter = row.remove_after;
  return k;
}

export class SqliteKeys implements KeyStore {
  private readonly q;
  private readonly putTx;
  private readonly putFirstTx;
  constructor(db: Db) {
    this.q = {
      list: db.prepare<[], KeyRow>("SELECT * FROM signing_keys ORDER BY created_at, kid"),
      put: db.prepare(
        `INSERT OR REPLACE INTO signing_keys (kid, alg, public_jwk, private_key_enc, created_at,
           activates_at, retired_at, remove_after)
         VALUES (@kid, @alg, @public_jwk, @private_key_enc, @created_at, @activates_at,
           @retired_at, @remove_after)`,
      ),
      delete: db.prepare<[string]>("DELETE FROM signing_keys WHERE kid = ?"),
      live: db.prepare<[number], { n: number }>(
        "SELECT COUNT(*) AS n FROM signing_keys WHERE retired_at IS NULL OR retired_at > ?",
      ),
    };
    this.putTx = db.transaction((keys: KeyRecord[]) => {
      for (const k of keys) {
        this.q.put.run({
          kid: k.kid,
          alg: k.alg,
          public_jwk: JSON.stringify(k.publicJwk),
          private_key_enc: k.privateKeyEnc,
          created_at: k.createdAt,
          activates_at: k.activatesAt,
          retired_at: k.retiredAt ?? null,
          remove_after: k.removeAfter ?? null,
        });
      }
    });
    this.putFirstTx = db.transaction((key: KeyRecord, now: number): boolean => {
      if ((this.q.live.get(now)?.n ?? 0) > 0) return false;
      this.putTx([key]);
      return true;
    });
  }

  async putFirstKey(key: KeyRecord, now: number): Promise<boolean> {
    // BEGIN IMMEDIATE: the write lock is taken before the look, so a second process
    // opening the same file waits and then sees this key.
    return this.putFirstTx.immediate(key, now);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return this.q.list.all().map(toKey);
  }

  async putKeys(keys: KeyRecord[]): Promise<void> {
    this.putTx.immediate(keys);
  }

  async deleteKey(kid: string): Promise<boolean> {
    return this.q.delete.run(kid).changes === 1;
  }
}
