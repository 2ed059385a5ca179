import { KEY_COLUMNS, type KeyRow, keyFromRow, keyRowValues } from "../key-rows.js";
import type { KeyRecord, KeyStore } from "../types.js";
import type { Db } from "./db.js";

export class SqliteKeys implements KeyStore {
  private readonly q;
  private readonly putTx;
  private readonly putFirstTx;
  constructor(db: Db) {
    this.q = {
      list: db.prepare<[], KeyRow>("SELECT * FROM signing_keys ORDER BY created_at, kid"),
      put: db.prepare<unknown[]>(
        `INSERT OR REPLACE INTO signing_keys (${KEY_COLUMNS.join(", ")})
         VALUES (${KEY_COLUMNS.map(() => "?").join(", ")})`,
      ),
      delete: db.prepare<[string]>("DELETE FROM signing_keys WHERE kid = ?"),
      live: db.prepare<[number], { n: number }>(
        "SELECT COUNT(*) AS n FROM signing_keys WHERE retired_at IS NULL OR retired_at > ?",
      ),
    };
    this.putTx = db.transaction((keys: KeyRecord[]) => {
      for (const k of keys) this.q.put.run(...keyRowValues(k));
    });
    this.putFirstTx = db.transaction((keys: KeyRecord[], now: number): boolean => {
      if ((this.q.live.get(now)?.n ?? 0) > 0) return false;
      this.putTx(keys);
      return true;
    });
  }

  async putFirstKey(keys: KeyRecord[], now: number): Promise<boolean> {
    // BEGIN IMMEDIATE: the write lock is taken before the look, so a second process
    // opening the same file waits and then sees these keys.
    return this.putFirstTx.immediate(keys, now);
  }

  async listKeys(): Promise<KeyRecord[]> {
    return this.q.list.all().map(keyFromRow);
  }

  async putKeys(keys: KeyRecord[]): Promise<void> {
    this.putTx.immediate(keys);
  }

  async deleteKey(kid: string): Promise<boolean> {
    return this.q.delete.run(kid).changes === 1;
  }
}
