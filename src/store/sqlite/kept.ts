import { keptKey, parseKept } from "../kept.js";
import type { KeptRevocation, KeptRevocationStore } from "../types.js";
import type { Db } from "./db.js";

export class SqliteKeptRevocations implements KeptRevocationStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      keep: db.prepare<[string, string, number]>(
        "INSERT INTO kept_revocations (key, body, exp) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING",
      ),
      page: db.prepare<[number, string, number], { key: string; body: string }>(
        "SELECT key, body FROM kept_revocations WHERE exp * 1000 > ? AND key > ? ORDER BY key LIMIT ?",
      ),
    };
  }

  async keep(event: KeptRevocation): Promise<void> {
    this.q.keep.run(keptKey(event), JSON.stringify(event), event.exp);
  }

  async page(
    nowMs: number,
    after: string,
    limit: number,
  ): Promise<Array<{ key: string; event: KeptRevocation }>> {
    const out: Array<{ key: string; event: KeptRevocation }> = [];
    for (const row of this.q.page.all(nowMs, after, limit)) {
      const event = parseKept(row.body);
      if (event !== undefined) out.push({ key: row.key, event });
    }
    return out;
  }
}
