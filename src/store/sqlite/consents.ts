import type { ConsentRecord, ConsentStore } from "../types.js";
import type { Db } from "./db.js";

interface ConsentRow {
  user_id: string;
  client_id: string;
  scopes: string;
  granted_at: number;
  client_generation: string | null;
}

function toConsent(r: ConsentRow): ConsentRecord {
  const c: ConsentRecord = {
    userId: r.user_id,
    clientId: r.client_id,
    scopes: JSON.parse(r.scopes) as string[],
    grantedAt: r.granted_at,
  };
  if (r.client_generation !== null) c.clientGeneration = r.client_generation;
  return c;
}

export class SqliteConsents implements ConsentStore {
  private readonly q;
  private readonly narrowTx;
  constructor(db: Db) {
    this.q = {
      find: db.prepare<[string, string], ConsentRow>(
        "SELECT * FROM consents WHERE user_id = ? AND client_id = ?",
      ),
      put: db.prepare(
        `INSERT OR REPLACE INTO consents (user_id, client_id, scopes, granted_at, client_generation)
         VALUES (@user_id, @client_id, @scopes, @granted_at, @client_generation)`,
      ),
      list: db.prepare<[string], ConsentRow>(
        "SELECT * FROM consents WHERE user_id = ? ORDER BY granted_at, client_id",
      ),
      delete: db.prepare<[string, string]>(
        "DELETE FROM consents WHERE user_id = ? AND client_id = ?",
      ),
      ofClient: db.prepare<[string], ConsentRow>("SELECT * FROM consents WHERE client_id = ?"),
      deleteOfClient: db.prepare<[string]>("DELETE FROM consents WHERE client_id = ?"),
      setScopes: db.prepare<[string, string, string]>(
        "UPDATE consents SET scopes = ? WHERE user_id = ? AND client_id = ?",
      ),
    };
    this.narrowTx = db.transaction((clientId: string, allowed: string[]): number => {
      let n = 0;
      for (const c of this.q.ofClient.all(clientId).map(toConsent)) {
        const scopes = c.scopes.filter((s) => allowed.includes(s));
        if (scopes.length === c.scopes.length) continue;
        this.q.setScopes.run(JSON.stringify(scopes), c.userId, c.clientId);
        n++;
      }
      return n;
    });
  }

  async findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    const row = this.q.find.get(userId, clientId);
    return row === undefined ? undefined : toConsent(row);
  }

  async putConsent(c: ConsentRecord): Promise<void> {
    this.q.put.run({
      user_id: c.userId,
      client_id: c.clientId,
      scopes: JSON.stringify(c.scopes),
      granted_at: c.grantedAt,
      client_generation: c.clientGeneration ?? null,
    });
  }

  async listConsents(userId: string): Promise<ConsentRecord[]> {
    return this.q.list.all(userId).map(toConsent);
  }

  async deleteConsent(userId: string, clientId: string): Promise<boolean> {
    return this.q.delete.run(userId, clientId).changes === 1;
  }

  async deleteClientConsents(clientId: string): Promise<number> {
    return this.q.deleteOfClient.run(clientId).changes;
  }

  async narrowClientConsents(clientId: string, allowed: string[]): Promise<number> {
    return this.narrowTx.immediate(clientId, allowed);
  }
}
