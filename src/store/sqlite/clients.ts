import { clientExists, clientNotFound } from "../conflicts.js";
import type { ClientRecord, ClientStore, GrantType, SigningAlg, TokenFormat } from "../types.js";
import { type Db, writeUnique } from "./db.js";

interface ClientRow {
  id: string;
  secret_hash: string | null;
  grants: string;
  token_format: string;
  audience: string;
  scopes: string;
  access_ttl: number | null;
  introspect: number;
  redirect_uris: string;
  created_at: number;
  updated_at: number;
  first_party: number;
  fingerprint: number;
  generation: string;
  access_tokens_valid_after: number;
  oidc: number;
  id_token_alg: string | null;
  post_logout_redirect_uris: string | null;
  backchannel_logout_uri: string | null;
}

function toClient(row: ClientRow): ClientRecord {
  const c: ClientRecord = {
    id: row.id,
    grants: JSON.parse(row.grants) as GrantType[],
    tokenFormat: row.token_format as TokenFormat,
    audience: JSON.parse(row.audience) as string[],
    scopes: JSON.parse(row.scopes) as string[],
    introspect: row.introspect === 1,
    redirectUris: JSON.parse(row.redirect_uris) as string[],
    firstParty: row.first_party === 1,
    fingerprint: row.fingerprint === 1,
    generation: row.generation,
    accessTokensValidAfter: row.access_tokens_valid_after,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.secret_hash !== null) c.secretHash = row.secret_hash;
  if (row.access_ttl !== null) c.accessTtl = row.access_ttl;
  if (row.oidc === 1) c.oidc = true;
  if (row.id_token_alg !== null) c.idTokenAlg = row.id_token_alg as SigningAlg;
  if (row.post_logout_redirect_uris !== null) {
    c.postLogoutRedirectUris = JSON.parse(row.post_logout_redirect_uris) as string[];
  }
  if (row.backchannel_logout_uri !== null) c.backchannelLogoutUri = row.backchannel_logout_uri;
  return c;
}

function clientParams(c: ClientRecord) {
  return {
    id: c.id,
    secret_hash: c.secretHash ?? null,
    grants: JSON.stringify(c.grants),
    token_format: c.tokenFormat,
    audience: JSON.stringify(c.audience),
    scopes: JSON.stringify(c.scopes),
    access_ttl: c.accessTtl ?? null,
    introspect: c.introspect ? 1 : 0,
    redirect_uris: JSON.stringify(c.redirectUris),
    first_party: c.firstParty ? 1 : 0,
    fingerprint: c.fingerprint ? 1 : 0,
    generation: c.generation,
    access_tokens_valid_after: c.accessTokensValidAfter,
    oidc: c.oidc === true ? 1 : 0,
    id_token_alg: c.idTokenAlg ?? null,
    post_logout_redirect_uris:
      c.postLogoutRedirectUris === undefined ? null : JSON.stringify(c.postLogoutRedirectUris),
    backchannel_logout_uri: c.backchannelLogoutUri ?? null,
    created_at: c.createdAt,
    updated_at: c.updatedAt,
  };
}

export class SqliteClients implements ClientStore {
  private readonly q;
  constructor(db: Db) {
    const cols =
      "id, secret_hash, grants, token_format, audience, scopes, access_ttl, introspect, redirect_uris, first_party, fingerprint, generation, access_tokens_valid_after, oidc, id_token_alg, post_logout_redirect_uris, backchannel_logout_uri, created_at, updated_at";
    const vals =
      "@id, @secret_hash, @grants, @token_format, @audience, @scopes, @access_ttl, @introspect, @redirect_uris, @first_party, @fingerprint, @generation, @access_tokens_valid_after, @oidc, @id_token_alg, @post_logout_redirect_uris, @backchannel_logout_uri, @created_at, @updated_at";
    this.q = {
      insert: db.prepare(`INSERT INTO clients (${cols}) VALUES (${vals})`),
      update: db.prepare(
        `UPDATE clients SET secret_hash = @secret_hash, grants = @grants, token_format = @token_format,
           audience = @audience, scopes = @scopes, access_ttl = @access_ttl, introspect = @introspect,
           redirect_uris = @redirect_uris, first_party = @first_party, fingerprint = @fingerprint,
           generation = @generation, access_tokens_valid_after = @access_tokens_valid_after,
           oidc = @oidc, id_token_alg = @id_token_alg,
           post_logout_redirect_uris = @post_logout_redirect_uris,
           backchannel_logout_uri = @backchannel_logout_uri,
           created_at = @created_at, updated_at = @updated_at
         WHERE id = @id`,
      ),
      find: db.prepare<[string], ClientRow>("SELECT * FROM clients WHERE id = ?"),
      list: db.prepare<[], ClientRow>("SELECT * FROM clients ORDER BY created_at, id"),
      delete: db.prepare<[string]>("DELETE FROM clients WHERE id = ?"),
    };
  }

  async createClient(client: ClientRecord): Promise<void> {
    writeUnique(() => this.q.insert.run(clientParams(client)), clientExists);
  }

  async findClient(id: string): Promise<ClientRecord | undefined> {
    const row = this.q.find.get(id);
    return row === undefined ? undefined : toClient(row);
  }

  async listClients(): Promise<ClientRecord[]> {
    return this.q.list.all().map(toClient);
  }

  async updateClient(client: ClientRecord): Promise<void> {
    if (this.q.update.run(clientParams(client)).changes === 0) {
      throw clientNotFound();
    }
  }

  async deleteClient(id: string): Promise<boolean> {
    return this.q.delete.run(id).changes === 1;
  }
}
