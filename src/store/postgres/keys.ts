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

const COLUMNS =
  "kid, alg, public_jwk, private_key_enc, created_at, activates_at, retired_at, remove_after";

const SQL = {
  list: `SELECT ${COLUMNS} FROM signing_keys ORDER BY created_at, kid`,
  put: `INSERT INTO signing_keys (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (kid) DO UPDATE SET alg = excluded.alg, public_jwk = excluded.public_jwk,
      private_key_enc = excluded.private_key_enc, created_at = excluded.created_at,
      activates_at = excluded.activates_at, retired_at = excluded.retired_at,
      remove_after = excluded.remove_after`,
  delete: "DELETE FROM signing_keys WHERE kid = $1",
  // Instances starting at once on an empty schema queue here (for this one transaction,
  // this schema only); the first inserts, the others find its key.
  firstKeyLock: "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.first_signing_key'))",
  live: "SELECT 1 FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 LIMIT 1",
};

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

function values(k: KeyRecord): unknown[] {
  return [
    k.kid,
    k.alg,
    JSON.stringify(k.publicJwk),
    k.privateKeyEnc,
    k.createdAt,
    k.activatesAt,
    k.retiredAt ?? null,
    k.removeAfter ?? null,
  ];
}

export class PostgresKeys implements KeyStore {
  constructor(private readonly db: Db) {}

  async listKeys(): Promise<KeyRecord[]> {
    return (await this.db.query<KeyRow>(SQL.list)).rows.map(toKey);
  }

  /** Every key in one transaction: a rotation's two writes land together or not at all. */
  async putKeys(keys: KeyRecord[]): Promise<void> {
    await this.db.tx(async (q) => {
      for (const k of keys) await q(SQL.put, values(k));
    });
  }

  async putFirstKey(key: KeyRecord, now: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      await q(SQL.firstKeyLock);
      if ((await q(SQL.live, [now])).rowCount > 0) return false;
      await q(SQL.put, values(key));
      return true;
    });
  }

  async deleteKey(kid: string): Promise<boolean> {
    return (await this.db.query(SQL.delete, [kid])).rowCount === 1;
  }
}
