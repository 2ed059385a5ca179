import type { ConsentRecord, ConsentStore } from "../types.js";
import type { Db } from "./db.js";

interface ConsentRow {
  user_id: string;
  client_id: string;
  scopes: string[];
  granted_at: number;
  client_generation: string | null;
}

const COLUMNS = "user_id, client_id, scopes, granted_at, client_generation";
/** `scopes` keeping only those in `$2`, in their order. */
const NARROWED =
  "ARRAY(SELECT s FROM unnest(scopes) WITH ORDINALITY AS u(s, i) WHERE s = ANY($2::text[]) ORDER BY i)";

const SQL = {
  find: `SELECT ${COLUMNS} FROM consents WHERE user_id = $1 AND client_id = $2`,
  put: `INSERT INTO consents (${COLUMNS}) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (user_id, client_id) DO UPDATE SET scopes = excluded.scopes,
      granted_at = excluded.granted_at, client_generation = excluded.client_generation`,
  list: `SELECT ${COLUMNS} FROM consents WHERE user_id = $1 ORDER BY granted_at, client_id`,
  delete: "DELETE FROM consents WHERE user_id = $1 AND client_id = $2",
  deleteOfClient: "DELETE FROM consents WHERE client_id = $1",
  /** One statement: each consent narrowed atomically, counted only when it changed. */
  narrow: `UPDATE consents SET scopes = ${NARROWED}
    WHERE client_id = $1 AND scopes <> ${NARROWED}`,
};

function toConsent(r: ConsentRow): ConsentRecord {
  const c: ConsentRecord = {
    userId: r.user_id,
    clientId: r.client_id,
    scopes: r.scopes,
    grantedAt: r.granted_at,
  };
  if (r.client_generation !== null) c.clientGeneration = r.client_generation;
  return c;
}

export class PostgresConsents implements ConsentStore {
  constructor(private readonly db: Db) {}

  async findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    const { rows } = await this.db.query<ConsentRow>(SQL.find, [userId, clientId]);
    return rows[0] === undefined ? undefined : toConsent(rows[0]);
  }

  async putConsent(c: ConsentRecord): Promise<void> {
    await this.db.query(SQL.put, [
      c.userId,
      c.clientId,
      [...c.scopes],
      c.grantedAt,
      c.clientGeneration ?? null,
    ]);
  }

  async listConsents(userId: string): Promise<ConsentRecord[]> {
    return (await this.db.query<ConsentRow>(SQL.list, [userId])).rows.map(toConsent);
  }

  async deleteConsent(userId: string, clientId: string): Promise<boolean> {
    return (await this.db.query(SQL.delete, [userId, clientId])).rowCount === 1;
  }

  async deleteClientConsents(clientId: string): Promise<number> {
    return (await this.db.query(SQL.deleteOfClient, [clientId])).rowCount;
  }

  async narrowClientConsents(clientId: string, allowed: string[]): Promise<number> {
    return (await this.db.query(SQL.narrow, [clientId, [...allowed]])).rowCount;
  }
}
