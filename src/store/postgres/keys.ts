import { KEY_COLUMNS, type KeyRow, keyFromRow, keyRowValues } from "../key-rows.js";
import type { KeyRecord, KeyStore } from "../types.js";
import type { Db } from "./db.js";

const COLUMNS = KEY_COLUMNS.join(", ");
const PLACEHOLDERS = KEY_COLUMNS.map((_, i) => `$${i + 1}`).join(", ");
const UPDATES = KEY_COLUMNS.filter((c) => c !== "kid")
  .map((c) => `${c} = excluded.${c}`)
  .join(", ");

const SQL = {
  list: `SELECT ${COLUMNS} FROM signing_keys ORDER BY created_at, kid`,
  put: `INSERT INTO signing_keys (${COLUMNS}) VALUES (${PLACEHOLDERS})
    ON CONFLICT (kid) DO UPDATE SET ${UPDATES}`,
  delete: "DELETE FROM signing_keys WHERE kid = $1",
  // Instances starting at once on an empty schema queue here (for this one transaction,
  // this schema only); the first inserts, the others find its keys.
  firstKeyLock: "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.first_signing_key'))",
  live: "SELECT 1 FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 LIMIT 1",
};

export class PostgresKeys implements KeyStore {
  constructor(private readonly db: Db) {}

  async listKeys(): Promise<KeyRecord[]> {
    return (await this.db.query<KeyRow>(SQL.list)).rows.map(keyFromRow);
  }

  /** Every key in one transaction: a rotation's writes land together or not at all. */
  async putKeys(keys: KeyRecord[]): Promise<void> {
    await this.db.tx(async (q) => {
      for (const k of keys) await q(SQL.put, keyRowValues(k));
    });
  }

  async putFirstKey(keys: KeyRecord[], now: number): Promise<boolean> {
    return this.db.tx(async (q) => {
      await q(SQL.firstKeyLock);
      if ((await q(SQL.live, [now])).rowCount > 0) return false;
      for (const k of keys) await q(SQL.put, keyRowValues(k));
      return true;
    });
  }

  async deleteKey(kid: string): Promise<boolean> {
    return (await this.db.query(SQL.delete, [kid])).rowCount === 1;
  }
}
