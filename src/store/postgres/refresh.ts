import { planRotation, type RotateInput } from "../refresh-policy.js";
import type {
  FamilyAccessToken,
  RefreshFamily,
  RefreshStore,
  RefreshTokenRecord,
  RotateOutcome,
} from "../types.js";
import type { Db, Query } from "./db.js";
import { sweepInBatches } from "./janitor.js";

interface FamilyRow {
  id: string;
  client_id: string;
  user_id: string;
  scope: string[];
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  client_generation: string | null;
}

interface TokenRow {
  hash: string;
  family_id: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  successor_hash: string | null;
}

const FAMILY =
  "id, client_id, user_id, scope, created_at, expires_at, revoked_at, client_generation";
const F_FAMILY = FAMILY.split(", ")
  .map((c) => `f.${c}`)
  .join(", ");
const TOKEN = "hash, family_id, created_at, expires_at, consumed_at, successor_hash";
/** `scope` keeping only those in `$2`, in their order. */
const NARROWED =
  "ARRAY(SELECT s FROM unnest(scope) WITH ORDINALITY AS u(s, i) WHERE s = ANY($2::text[]) ORDER BY i)";

const SQL = {
  /**
   * Serialises creating and revoking-in-advance one family id (a tombstone and a creation
   * racing must not both succeed). Held until the transaction ends.
   */
  lockId: "SELECT pg_advisory_xact_lock(hashtextextended('tessera.family:' || $1, 0))",
  tombstoned: "SELECT 1 FROM refresh_family_tombstones WHERE id = $1 AND expires_at > $2",
  insertFamily: `INSERT INTO refresh_families
      (id, client_id, user_id, scope, created_at, expires_at, client_generation)
    VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
  insertToken: `INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at)
    VALUES ($1, $2, $3, $4)`,
  family: `SELECT ${FAMILY} FROM refresh_families WHERE id = $1`,
  token: `SELECT ${TOKEN} FROM refresh_tokens WHERE hash = $1`,
  /**
   * The family of a token, row-locked: every rotation and revocation of one family takes
   * this lock, so they happen one after the other, on every instance.
   */
  lockFamilyOf: `SELECT ${F_FAMILY} FROM refresh_families f
    JOIN refresh_tokens t ON t.family_id = f.id WHERE t.hash = $1 FOR UPDATE OF f`,
  /** The token and its successor, read after the lock (a fresh snapshot: the latest state). */
  tokenAndSuccessor: `SELECT ${TOKEN} FROM refresh_tokens WHERE hash = $1
    OR hash = (SELECT successor_hash FROM refresh_tokens WHERE hash = $1)`,
  consume: "UPDATE refresh_tokens SET consumed_at = $2, successor_hash = $3 WHERE hash = $1",
  revoke: `UPDATE refresh_families SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1
    RETURNING ${FAMILY}`,
  tombstone: `INSERT INTO refresh_family_tombstones (id, expires_at) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET
      expires_at = greatest(refresh_family_tombstones.expires_at, excluded.expires_at)`,
  revokeOfUser: `UPDATE refresh_families SET revoked_at = $2
    WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
      AND ($3::text IS NULL OR client_id = $3)
    RETURNING ${FAMILY}`,
  revokeOfClient: `UPDATE refresh_families SET revoked_at = $2
    WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $2
    RETURNING ${FAMILY}`,
  narrowOfClient: `UPDATE refresh_families SET scope = ${NARROWED}
    WHERE client_id = $1 AND revoked_at IS NULL AND expires_at > $3
    RETURNING ${FAMILY}`,
  /**
   * Recorded only while the family is live, under a share lock on its row: a revocation
   * (which updates the row) either comes first and this records nothing, or waits for this
   * to commit and then lists what it recorded.
   */
  recordAccess: `INSERT INTO family_access_tokens (family_id, kind, id, exp)
    SELECT id, $2, $3, $4 FROM refresh_families
    WHERE id = $1 AND revoked_at IS NULL FOR SHARE
    ON CONFLICT (family_id, id) DO UPDATE SET kind = excluded.kind, exp = excluded.exp`,
  listAccess: `SELECT kind, id, exp FROM family_access_tokens
    WHERE family_id = $1 AND exp > $2 ORDER BY exp`,
};

/** Batched deletions of what `sweepFamilies` removes (see ./janitor.ts). */
const SWEEP = {
  accessTokens: `DELETE FROM family_access_tokens WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM family_access_tokens WHERE exp <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
    AND exp <= $1`,
  tombstones: `DELETE FROM refresh_family_tombstones WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM refresh_family_tombstones WHERE expires_at <= $1 LIMIT $2
      FOR UPDATE SKIP LOCKED))
    AND expires_at <= $1`,
  /** Tokens of ended families first, a batch at a time: a family may have thousands. */
  tokensOfEnded: `DELETE FROM refresh_tokens WHERE ctid = ANY(ARRAY(
      SELECT t.ctid FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
      WHERE f.expires_at <= $1 LIMIT $2 FOR UPDATE OF t SKIP LOCKED))`,
  families: `DELETE FROM refresh_families WHERE ctid = ANY(ARRAY(
      SELECT ctid FROM refresh_families WHERE expires_at <= $1 LIMIT $2
      FOR UPDATE SKIP LOCKED))
    AND expires_at <= $1`,
};

function toFamily(row: FamilyRow): RefreshFamily {
  const f: RefreshFamily = {
    id: row.id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: row.scope,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  if (row.revoked_at !== null) f.revokedAt = row.revoked_at;
  if (row.client_generation !== null) f.clientGeneration = row.client_generation;
  return f;
}

function toToken(row: TokenRow): RefreshTokenRecord {
  const t: RefreshTokenRecord = {
    hash: row.hash,
    familyId: row.family_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  if (row.consumed_at !== null) t.consumedAt = row.consumed_at;
  if (row.successor_hash !== null) t.successorHash = row.successor_hash;
  return t;
}

const tokenParams = (t: RefreshTokenRecord) => [t.hash, t.familyId, t.createdAt, t.expiresAt];

export class PostgresRefresh implements RefreshStore {
  constructor(
    private readonly db: Db,
    private readonly batchSize: number,
  ) {}

  async createFamily(family: RefreshFamily, first: RefreshTokenRecord): Promise<boolean> {
    return this.db.tx(async (q) => {
      await q(SQL.lockId, [family.id]);
      if ((await q(SQL.tombstoned, [family.id, family.createdAt])).rowCount > 0) return false;
      const inserted = await q(SQL.insertFamily, [
        family.id,
        family.clientId,
        family.userId,
        [...family.scope],
        family.createdAt,
        family.expiresAt,
        family.clientGeneration ?? null,
      ]);
      if (inserted.rowCount === 0) return false;
      await q(SQL.insertToken, tokenParams(first));
      return true;
    });
  }

  async findFamily(id: string): Promise<RefreshFamily | undefined> {
    const { rows } = await this.db.query<FamilyRow>(SQL.family, [id]);
    return rows[0] === undefined ? undefined : toFamily(rows[0]);
  }

  async findToken(
    hash: string,
  ): Promise<{ token: RefreshTokenRecord; family: RefreshFamily } | undefined> {
    const token = (await this.db.query<TokenRow>(SQL.token, [hash])).rows[0];
    if (token === undefined) return undefined;
    const family = await this.findFamily(token.family_id);
    return family === undefined ? undefined : { token: toToken(token), family };
  }

  /**
   * One transaction: lock the token's family row, read the token and its successor after
   * the lock, apply the policy (`planRotation`), write. Parallel rotations of one token,
   * from any number of instances, queue on the lock: the first rotates, the others then
   * read the token consumed and replay (or revoke).
   */
  async rotate(input: RotateInput): Promise<RotateOutcome> {
    return this.db.tx(async (q) => {
      const locked = (await q<FamilyRow>(SQL.lockFamilyOf, [input.hash])).rows[0];
      if (locked === undefined) return { kind: "invalid" };
      const { rows } = await q<TokenRow>(SQL.tokenAndSuccessor, [input.hash]);
      const tokenRow = rows.find((r) => r.hash === input.hash);
      const token = tokenRow === undefined ? undefined : toToken(tokenRow);
      const nextRow =
        token?.successorHash === undefined
          ? undefined
          : rows.find((r) => r.hash === token.successorHash);
      const next = nextRow === undefined ? undefined : toToken(nextRow);
      const plan = planRotation(token, toFamily(locked), next, input);
      if (plan.write === "consume") {
        await q(SQL.consume, [input.hash, input.now, input.successor.hash]);
        await q(SQL.insertToken, tokenParams(input.successor));
      } else if (plan.write === "revoke") {
        await q(SQL.revoke, [plan.familyId, input.now]);
      }
      return plan.outcome;
    });
  }

  async revokeFamily(
    id: string,
    now: number,
    tombstoneUntil?: number,
  ): Promise<RefreshFamily | undefined> {
    if (tombstoneUntil === undefined) {
      const { rows } = await this.db.query<FamilyRow>(SQL.revoke, [id, now]);
      return rows[0] === undefined ? undefined : toFamily(rows[0]);
    }
    return this.db.tx(async (q) => {
      await q(SQL.lockId, [id]);
      const { rows } = await q<FamilyRow>(SQL.revoke, [id, now]);
      if (rows[0] !== undefined) return toFamily(rows[0]);
      await q(SQL.tombstone, [id, tombstoneUntil]);
      return undefined;
    });
  }

  async revokeUserFamilies(
    userId: string,
    now: number,
    clientId?: string,
  ): Promise<RefreshFamily[]> {
    const { rows } = await this.db.query<FamilyRow>(SQL.revokeOfUser, [
      userId,
      now,
      clientId ?? null,
    ]);
    return rows.map(toFamily);
  }

  async revokeClientFamilies(clientId: string, now: number): Promise<RefreshFamily[]> {
    const { rows } = await this.db.query<FamilyRow>(SQL.revokeOfClient, [clientId, now]);
    return rows.map(toFamily);
  }

  async narrowClientFamilies(
    clientId: string,
    allowed: string[],
    now: number,
  ): Promise<RefreshFamily[]> {
    const { rows } = await this.db.query<FamilyRow>(SQL.narrowOfClient, [
      clientId,
      [...allowed],
      now,
    ]);
    return rows.map(toFamily);
  }

  async recordAccessToken(familyId: string, token: FamilyAccessToken): Promise<boolean> {
    const { rowCount } = await this.db.query(SQL.recordAccess, [
      familyId,
      token.kind,
      token.id,
      token.exp,
    ]);
    return rowCount > 0;
  }

  async accessTokens(familyId: string, now: number): Promise<FamilyAccessToken[]> {
    const { rows } = await this.db.query<FamilyAccessToken>(SQL.listAccess, [
      familyId,
      Math.floor(now / 1000),
    ]);
    return rows.map((r) => ({ kind: r.kind, id: r.id, exp: r.exp }));
  }

  /** In batches (./janitor.ts): expired access-token records, tombstones, ended families. */
  async sweepFamilies(now: number): Promise<number> {
    const q: Query = this.db.query;
    const n = this.batchSize;
    await sweepInBatches(q, SWEEP.accessTokens, Math.floor(now / 1000), n);
    await sweepInBatches(q, SWEEP.tombstones, now, n);
    await sweepInBatches(q, SWEEP.tokensOfEnded, now, n);
    return (await sweepInBatches(q, SWEEP.families, now, n)).deleted;
  }
}
