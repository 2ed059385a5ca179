import { keptKey, parseKept } from "../kept.js";
import type { KeptRevocation, KeptRevocationStore } from "../types.js";
import type { Db } from "./db.js";

const SQL = {
  keep: "INSERT INTO kept_revocations (key, body, exp) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
  page: "SELECT key, body FROM kept_revocations WHERE exp > $1 AND key > $2 ORDER BY key LIMIT $3",
};

export class PostgresKeptRevocations implements KeptRevocationStore {
  constructor(private readonly db: Db) {}

  async keep(event: KeptRevocation): Promise<void> {
    await this.db.query(SQL.keep, [keptKey(event), JSON.stringify(event), event.exp]);
  }

  async page(
    nowMs: number,
    after: string,
    limit: number,
  ): Promise<Array<{ key: string; event: KeptRevocation }>> {
    // exp is in seconds: live while exp * 1000 > now, i.e. exp > floor(now / 1000).
    const { rows } = await this.db.query<{ key: string; body: string }>(SQL.page, [
      Math.floor(nowMs / 1000),
      after,
      limit,
    ]);
    const out: Array<{ key: string; event: KeptRevocation }> = [];
    for (const row of rows) {
      const event = parseKept(row.body);
      if (event !== undefined) out.push({ key: row.key, event });
    }
    return out;
  }
}
