import type { Clock } from "../clock.js";
import { isTokenShaped, randomToken, sha256 } from "../crypto/random.js";
import type { Collection, EphemeralStore } from "../store/types.js";

/** Authorization codes live this long (RFC 6749 §4.1.2 recommends at most 10 minutes). */
export const CODE_TTL_MS = 60_000;

/** What an authorization code stands for, stored under SHA-256 of the code. */
export interface CodeData {
  /** When the code was issued (epoch ms); set by `issue`. */
  issuedAt?: number;
  clientId: string;
  userId: string;
  redirectUri: string;
  /** PKCE S256 challenge (RFC 7636). */
  codeChallenge: string;
  scope: string[];
  /** When the user authenticated (epoch ms). */
  authTime: number;
  /** The client's `generation` when the code was issued (src/clients/current.ts). */
  clientGeneration?: string;
  /** Set after the exchange: the family (grant) made from this code, revoked on reuse. */
  familyId?: string;
}

export type Redemption =
  | { kind: "ok"; data: CodeData; key: string }
  /** Presented a second time: whatever the first exchange issued must be revoked. */
  | { kind: "reused"; data: CodeData }
  | { kind: "invalid" };

/**
 * Authorization codes: 256-bit, single use, 60 s, bound to the client, the redirect URI
 * and the PKCE challenge. Stored hashed in the ephemeral store; `consume` makes the
 * single use atomic across instances.
 */
export class AuthorizationCodes {
  private readonly records: Collection<CodeData>;

  constructor(
    store: EphemeralStore,
    private readonly clock: Clock,
  ) {
    this.records = store.collection<CodeData>("code");
  }

  async issue(data: CodeData): Promise<string> {
    const code = randomToken();
    // The record outlives the code's validity (60 s) so that a late replay is still
    // recognised as a replay and revokes what the first exchange issued.
    await this.records.upsert(
      sha256(code),
      { ...data, issuedAt: this.clock.now() },
      { ttlMs: CODE_TTL_MS * 10, userId: data.userId },
    );
    return code;
  }

  /** The code's data without consuming it (to check who presents it first). */
  async peek(code: string): Promise<CodeData | undefined> {
    if (!isTokenShaped(code)) return undefined;
    return (await this.records.find(sha256(code)))?.value;
  }

  async redeem(code: string): Promise<Redemption> {
    if (!isTokenShaped(code)) return { kind: "invalid" };
    const key = sha256(code);
    const record = await this.records.consume(key);
    if (record === undefined) return { kind: "invalid" };
    if (record.consumedAt !== undefined) return { kind: "reused", data: record.value };
    if (this.clock.now() - (record.value.issuedAt ?? 0) >= CODE_TTL_MS) return { kind: "invalid" };
    return { kind: "ok", data: record.value, key };
  }

  /** Records what the exchange issued, so a replay of the code can revoke it. */
  async recordIssued(key: string, data: CodeData): Promise<void> {
    const record = await this.records.find(key);
    if (record === undefined) return;
    await this.records.update(key, data, {
      ttlMs: Math.max(1, record.expiresAt - this.clock.now()),
    });
  }
}
