import { clientExists, clientNotFound } from "../conflicts.js";
import type { ClientRecord, ClientStore, GrantType, SigningAlg, TokenFormat } from "../types.js";
import type { Db } from "./db.js";
import { GroupRead } from "./group-read.js";

interface ClientRow {
  id: string;
  secret_hash: string | null;
  grants: string[];
  token_format: string;
  audience: string[];
  scopes: string[];
  access_ttl: number | null;
  introspect: boolean;
  redirect_uris: string[];
  first_party: boolean;
  fingerprint: boolean;
  generation: string;
  access_tokens_valid_after: number;
  oidc: boolean;
  id_token_alg: string | null;
  post_logout_redirect_uris: string[] | null;
  backchannel_logout_uri: string | null;
  created_at: number;
  updated_at: number;
}

const COLUMNS =
  "id, secret_hash, grants, token_format, audience, scopes, access_ttl, introspect, redirect_uris, first_party, fingerprint, generation, access_tokens_valid_after, created_at, updated_at, oidc, id_token_alg, post_logout_redirect_uris, backchannel_logout_uri";

const SQL = {
  insert: `INSERT INTO clients (${COLUMNS})
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
  update: `UPDATE clients SET secret_hash = $2, grants = $3, token_format = $4, audience = $5,
      scopes = $6, access_ttl = $7, introspect = $8, redirect_uris = $9, first_party = $10,
      fingerprint = $11, generation = $12, access_tokens_valid_after = $13, created_at = $14,
      updated_at = $15, oidc = $16, id_token_alg = $17,
      post_logout_redirect_uris = $18, backchannel_logout_uri = $19
    WHERE id = $1`,
  find: `SELECT ${COLUMNS} FROM clients WHERE id = $1`,
  findMany: `SELECT ${COLUMNS} FROM clients WHERE id = ANY($1::text[])`,
  list: `SELECT ${COLUMNS} FROM clients ORDER BY created_at, id`,
  delete: "DELETE FROM clients WHERE id = $1",
};

/** A record of its own: no array shared with the row (one row may answer several reads). */
function toClient(row: ClientRow): ClientRecord {
  const c: ClientRecord = {
    id: row.id,
    grants: [...row.grants] as GrantType[],
    tokenFormat: row.token_format as TokenFormat,
    audience: [...row.audience],
    scopes: [...row.scopes],
    introspect: row.introspect,
    redirectUris: [...row.redirect_uris],
    firstParty: row.first_party,
    fingerprint: row.fingerprint,
    generation: row.generation,
    accessTokensValidAfter: row.access_tokens_valid_after,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.secret_hash !== null) c.secretHash = row.secret_hash;
  if (row.access_ttl !== null) c.accessTtl = row.access_ttl;
  if (row.oidc) c.oidc = true;
  if (row.id_token_alg !== null) c.idTokenAlg = row.id_token_alg as SigningAlg;
  if (row.post_logout_redirect_uris !== null) {
    c.postLogoutRedirectUris = [...row.post_logout_redirect_uris];
  }
  if (row.backchannel_logout_uri !== null) c.backchannelLogoutUri = row.backchannel_logout_uri;
  return c;
}

function params(c: ClientRecord): unknown[] {
  return [
    c.id,
    c.secretHash ?? null,
    [...c.grants],
    c.tokenFormat,
    [...c.audience],
    [...c.scopes],
    c.accessTtl ?? null,
    c.introspect,
    [...c.redirectUris],
    c.firstParty,
    c.fingerprint,
    c.generation,
    c.accessTokensValidAfter,
    c.createdAt,
    c.updatedAt,
    c.oidc === true,
    c.idTokenAlg ?? null,
    c.postLogoutRedirectUris === undefined ? null : [...c.postLogoutRedirectUris],
    c.backchannelLogoutUri ?? null,
  ];
}

/**
 * Clients in `clients`. Reads by id are grouped (./group-read.ts): the token endpoint reads
 * the client again after every grant (src/oauth/grants/shared.ts, confirmClient), so under load
 * the reads of one turn share one statement instead of a round trip each.
 */
export class PostgresClients implements ClientStore {
  private readonly reads: GroupRead<ClientRow, ClientRecord>;

  constructor(private readonly db: Db) {
    this.reads = new GroupRead(
      async (id) => {
        const { rows } = await this.db.query<ClientRow>(SQL.find, [id]);
        return rows[0] === undefined ? undefined : toClient(rows[0]);
      },
      async (ids) => {
        const { rows } = await this.db.query<ClientRow>(SQL.findMany, [ids]);
        return new Map(rows.map((row) => [row.id, row]));
      },
      toClient,
    );
  }

  async createClient(client: ClientRecord): Promise<void> {
    await this.db.queryUnique(SQL.insert, params(client), clientExists);
  }

  findClient(id: string): Promise<ClientRecord | undefined> {
    return this.reads.read(id);
  }

  async listClients(): Promise<ClientRecord[]> {
    return (await this.db.query<ClientRow>(SQL.list)).rows.map(toClient);
  }

  async updateClient(client: ClientRecord): Promise<void> {
    const { rowCount } = await this.db.query(SQL.update, params(client));
    if (rowCount === 0) throw clientNotFound();
  }

  async deleteClient(id: string): Promise<boolean> {
    return (await this.db.query(SQL.delete, [id])).rowCount === 1;
  }
}
