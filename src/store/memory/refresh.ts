import { type RotateInput, type RotationSteps, rotateWith } from "../refresh-policy.js";
import type {
  FamilyAccessToken,
  RefreshFamily,
  RefreshStore,
  RefreshTokenRecord,
  RotateOutcome,
} from "../types.js";

export class MemoryRefresh implements RefreshStore {
  private readonly families = new Map<string, RefreshFamily>();
  private readonly tokens = new Map<string, RefreshTokenRecord>();
  private readonly issued = new Map<string, FamilyAccessToken[]>();
  /** Ids revoked before any family had them → until when (epoch ms). */
  private readonly tombstones = new Map<string, number>();
  /** Rotation's reads hand out copies; its writes change the stored records. */
  private readonly rotation: RotationSteps = {
    token: (hash) => {
      const t = this.tokens.get(hash);
      return t === undefined ? undefined : structuredClone(t);
    },
    family: (id) => {
      const f = this.families.get(id);
      return f === undefined ? undefined : structuredClone(f);
    },
    consume: (hash, successor, now) => {
      const token = this.tokens.get(hash) as RefreshTokenRecord;
      token.consumedAt = now;
      token.successorHash = successor.hash;
      this.tokens.set(successor.hash, structuredClone(successor));
    },
    revoke: (familyId, now) => {
      (this.families.get(familyId) as RefreshFamily).revokedAt = now;
    },
  };

  async recordAccessToken(familyId: string, token: FamilyAccessToken): Promise<boolean> {
    const family = this.families.get(familyId);
    if (family === undefined || family.revokedAt !== undefined) return false;
    const list = this.issued.get(familyId) ?? [];
    list.push({ ...token });
    this.issued.set(familyId, list);
    return true;
  }

  async accessTokens(familyId: string, now: number): Promise<FamilyAccessToken[]> {
    return (this.issued.get(familyId) ?? [])
      .filter((t) => t.exp * 1000 > now)
      .sort((a, b) => a.exp - b.exp)
      .map((t) => ({ ...t }));
  }

  async createFamily(family: RefreshFamily, first: RefreshTokenRecord): Promise<boolean> {
    if (this.families.has(family.id)) return false;
    if ((this.tombstones.get(family.id) ?? 0) > family.createdAt) return false;
    this.families.set(family.id, structuredClone(family));
    this.tokens.set(first.hash, structuredClone(first));
    return true;
  }

  async findFamily(id: string): Promise<RefreshFamily | undefined> {
    const f = this.families.get(id);
    return f === undefined ? undefined : structuredClone(f);
  }

  async findToken(hash: string) {
    const token = this.tokens.get(hash);
    const family = token === undefined ? undefined : this.families.get(token.familyId);
    if (token === undefined || family === undefined) return undefined;
    return { token: structuredClone(token), family: structuredClone(family) };
  }

  async rotate(input: RotateInput): Promise<RotateOutcome> {
    // Synchronous from here to the end: atomic within the process.
    return rotateWith(this.rotation, input);
  }

  async revokeFamily(
    id: string,
    now: number,
    tombstoneUntil?: number,
  ): Promise<RefreshFamily | undefined> {
    const f = this.families.get(id);
    if (f === undefined) {
      if (tombstoneUntil !== undefined) {
        this.tombstones.set(id, Math.max(tombstoneUntil, this.tombstones.get(id) ?? 0));
      }
      return undefined;
    }
    f.revokedAt ??= now;
    return structuredClone(f);
  }

  async revokeUserFamilies(
    userId: string,
    now: number,
    clientId?: string,
  ): Promise<RefreshFamily[]> {
    const out: RefreshFamily[] = [];
    for (const f of this.families.values()) {
      if (clientId !== undefined && f.clientId !== clientId) continue;
      if (f.userId === userId && f.revokedAt === undefined && f.expiresAt > now) {
        f.revokedAt = now;
        out.push(structuredClone(f));
      }
    }
    return out;
  }

  async revokeClientFamilies(clientId: string, now: number): Promise<RefreshFamily[]> {
    const out: RefreshFamily[] = [];
    for (const f of this.families.values()) {
      if (f.clientId === clientId && f.revokedAt === undefined && f.expiresAt > now) {
        f.revokedAt = now;
        out.push(structuredClone(f));
      }
    }
    return out;
  }

  async narrowClientFamilies(
    clientId: string,
    allowed: string[],
    now: number,
  ): Promise<RefreshFamily[]> {
    const out: RefreshFamily[] = [];
    for (const f of this.families.values()) {
      if (f.clientId === clientId && f.revokedAt === undefined && f.expiresAt > now) {
        f.scope = f.scope.filter((s) => allowed.includes(s));
        out.push(structuredClone(f));
      }
    }
    return out;
  }

  async sweepFamilies(now: number): Promise<number> {
    let n = 0;
    for (const [id, f] of this.families) {
      if (f.expiresAt <= now) {
        this.families.delete(id);
        n++;
      }
    }
    for (const [hash, t] of this.tokens) {
      if (!this.families.has(t.familyId)) this.tokens.delete(hash);
    }
    for (const [id, until] of this.tombstones) {
      if (until <= now) this.tombstones.delete(id);
    }
    for (const [familyId, list] of this.issued) {
      const live = this.families.has(familyId) ? list.filter((t) => t.exp * 1000 > now) : [];
      if (live.length === 0) this.issued.delete(familyId);
      else this.issued.set(familyId, live);
    }
    return n;
  }
}
