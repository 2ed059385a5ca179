import { type RotateInput, type RotationSteps, rotateWith } from "../refresh-policy.js";
import type {
  FamilyAccessToken,
  RefreshFamily,
  RefreshStore,
  RefreshTokenRecord,
  RotateOutcome,
} from "../types.js";
import type { Db } from "./db.js";

interface FamilyRow {
  id: string;
  client_id: string;
  user_id: string;
  scope: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  client_generation: string | null;
}

interface RefreshTokenRow {
  hash: string;
  family_id: string;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  successor_hash: string | null;
}

function toFamily(row: FamilyRow): RefreshFamily {
  const f: RefreshFamily = {
    id: row.id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: JSON.parse(row.scope) as string[],
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
  if (row.revoked_at !== null) f.revokedAt = row.revoked_at;
  if (row.client_generation !== null) f.clientGeneration = row.client_generation;
  return f;
}

function toRefreshToken(row: RefreshTokenRow): RefreshTokenRecord {
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

/** The prepared statements of the refresh tables. */
function prepare(db: Db) {
  return {
    insertFamily: db.prepare(
      `INSERT INTO refresh_families
         (id, client_id, user_id, scope, created_at, expires_at, client_generation)
       VALUES (@id, @client_id, @user_id, @scope, @created_at, @expires_at, @client_generation)`,
    ),
    insertToken: db.prepare(
      `INSERT INTO refresh_tokens (hash, family_id, created_at, expires_at)
       VALUES (@hash, @family_id, @created_at, @expires_at)`,
    ),
    family: db.prepare<[string], FamilyRow>("SELECT * FROM refresh_families WHERE id = ?"),
    token: db.prepare<[string], RefreshTokenRow>("SELECT * FROM refresh_tokens WHERE hash = ?"),
    consume: db.prepare<[number, string, string]>(
      "UPDATE refresh_tokens SET consumed_at = ?, successor_hash = ? WHERE hash = ?",
    ),
    revoke: db.prepare<[number, string]>(
      "UPDATE refresh_families SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
    ),
    tombstone: db.prepare<[string, number]>(
      `INSERT INTO refresh_family_tombstones (id, expires_at) VALUES (?, ?)
       ON CONFLICT (id) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
    ),
    tombstoned: db.prepare<[string, number]>(
      "SELECT 1 FROM refresh_family_tombstones WHERE id = ? AND expires_at > ?",
    ),
    sweepTombstones: db.prepare<[number]>(
      "DELETE FROM refresh_family_tombstones WHERE expires_at <= ?",
    ),
    liveOfUser: db.prepare<[string, number], FamilyRow>(
      "SELECT * FROM refresh_families WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
    ),
    liveOfClient: db.prepare<[string, number], FamilyRow>(
      "SELECT * FROM refresh_families WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ?",
    ),
    setScope: db.prepare<[string, string]>("UPDATE refresh_families SET scope = ? WHERE id = ?"),
    sweep: db.prepare<[number]>("DELETE FROM refresh_families WHERE expires_at <= ?"),
    sweepAccess: db.prepare<[number]>("DELETE FROM family_access_tokens WHERE exp <= ?"),
    // One statement: atomic with a revocation (recorded only while the family is live).
    recordAccess: db.prepare<[string, string, string, number, string]>(
      `INSERT OR REPLACE INTO family_access_tokens (family_id, kind, id, exp)
       SELECT ?, ?, ?, ? WHERE EXISTS
         (SELECT 1 FROM refresh_families WHERE id = ? AND revoked_at IS NULL)`,
    ),
    listAccess: db.prepare<[string, number], FamilyAccessToken>(
      "SELECT kind, id, exp FROM family_access_tokens WHERE family_id = ? AND exp > ? ORDER BY exp",
    ),
  };
}

function tokenParams(t: RefreshTokenRecord) {
  return {
    hash: t.hash,
    family_id: t.familyId,
    created_at: t.createdAt,
    expires_at: t.expiresAt,
  };
}

export class SqliteRefresh implements RefreshStore {
  private readonly q: ReturnType<typeof prepare>;
  private readonly createTx;
  private readonly revokeTx;
  private readonly rotateTx;
  private readonly revokeUserTx;
  private readonly revokeClientTx;
  private readonly narrowClientTx;

  constructor(db: Db) {
    this.q = prepare(db);
    this.createTx = db.transaction((family: RefreshFamily, first: RefreshTokenRecord) => {
      if (this.q.tombstoned.get(family.id, family.createdAt) !== undefined) return false;
      if (this.q.family.get(family.id) !== undefined) return false;
      this.q.insertFamily.run({
        id: family.id,
        client_id: family.clientId,
        user_id: family.userId,
        scope: JSON.stringify(family.scope),
        created_at: family.createdAt,
        expires_at: family.expiresAt,
        client_generation: family.clientGeneration ?? null,
      });
      this.q.insertToken.run(tokenParams(first));
      return true;
    });
    this.revokeTx = db.transaction((id: string, now: number, tombstoneUntil?: number) => {
      const { changes } = this.q.revoke.run(now, id);
      if (changes === 0 && tombstoneUntil !== undefined) this.q.tombstone.run(id, tombstoneUntil);
    });
    const rotation: RotationSteps = {
      token: (hash) => {
        const row = this.q.token.get(hash);
        return row === undefined ? undefined : toRefreshToken(row);
      },
      family: (id) => {
        const row = this.q.family.get(id);
        return row === undefined ? undefined : toFamily(row);
      },
      consume: (hash, successor, now) => {
        this.q.consume.run(now, successor.hash, hash);
        this.q.insertToken.run(tokenParams(successor));
      },
      revoke: (familyId, now) => {
        this.q.revoke.run(now, familyId);
      },
    };
    this.rotateTx = db.transaction((input: RotateInput) => rotateWith(rotation, input));
    this.revokeUserTx = db.transaction(
      (userId: string, now: number, clientId: string | undefined): RefreshFamily[] => {
        const live = this.q.liveOfUser
          .all(userId, now)
          .map(toFamily)
          .filter((f) => clientId === undefined || f.clientId === clientId);
        for (const f of live) this.q.revoke.run(now, f.id);
        return live.map((f) => ({ ...f, revokedAt: now }));
      },
    );
    this.revokeClientTx = db.transaction((clientId: string, now: number): RefreshFamily[] => {
      const live = this.q.liveOfClient.all(clientId, now).map(toFamily);
      for (const f of live) this.q.revoke.run(now, f.id);
      return live.map((f) => ({ ...f, revokedAt: now }));
    });
    this.narrowClientTx = db.transaction(
      (clientId: string, allowed: string[], now: number): RefreshFamily[] => {
        const live = this.q.liveOfClient.all(clientId, now).map(toFamily);
        return live.map((f) => {
          const scope = f.scope.filter((s) => allowed.includes(s));
          if (scope.length !== f.scope.length) this.q.setScope.run(JSON.stringify(scope), f.id);
          return { ...f, scope };
        });
      },
    );
  }

  async createFamily(family: RefreshFamily, first: RefreshTokenRecord): Promise<boolean> {
    return this.createTx.immediate(family, first);
  }

  async findFamily(id: string): Promise<RefreshFamily | undefined> {
    const row = this.q.family.get(id);
    return row === undefined ? undefined : toFamily(row);
  }

  async findToken(hash: string) {
    const tokenRow = this.q.token.get(hash);
    const familyRow = tokenRow === undefined ? undefined : this.q.family.get(tokenRow.family_id);
    if (tokenRow === undefined || familyRow === undefined) return undefined;
    return { token: toRefreshToken(tokenRow), family: toFamily(familyRow) };
  }

  async rotate(input: RotateInput): Promise<RotateOutcome> {
    // IMMEDIATE: the write lock is taken before the read, so two processes cannot both
    // see the token unconsumed.
    return this.rotateTx.immediate(input);
  }

  async revokeFamily(
    id: string,
    now: number,
    tombstoneUntil?: number,
  ): Promise<RefreshFamily | undefined> {
    this.revokeTx.immediate(id, now, tombstoneUntil);
    return this.findFamily(id);
  }

  async revokeUserFamilies(
    userId: string,
    now: number,
    clientId?: string,
  ): Promise<RefreshFamily[]> {
    return this.revokeUserTx.immediate(userId, now, clientId);
  }

  async revokeClientFamilies(clientId: string, now: number): Promise<RefreshFamily[]> {
    return this.revokeClientTx.immediate(clientId, now);
  }

  async narrowClientFamilies(
    clientId: string,
    allowed: string[],
    now: number,
  ): Promise<RefreshFamily[]> {
    return this.narrowClientTx.immediate(clientId, allowed, now);
  }

  async recordAccessToken(familyId: string, token: FamilyAccessToken): Promise<boolean> {
    return this.q.recordAccess.run(familyId, token.kind, token.id, token.exp, familyId).changes > 0;
  }

  async accessTokens(familyId: string, now: number): Promise<FamilyAccessToken[]> {
    return this.q.listAccess.all(familyId, Math.floor(now / 1000));
  }

  async sweepFamilies(now: number): Promise<number> {
    this.q.sweepAccess.run(Math.floor(now / 1000));
    this.q.sweepTombstones.run(now);
    return this.q.sweep.run(now).changes;
  }
}
