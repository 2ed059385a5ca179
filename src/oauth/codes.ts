import type { Clock } from "../clock.js";
import { randomId, sha256 } from "../crypto/random.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { Collection, EphemeralStore } from "../store/types.js";

/** Authorization codes live this long (RFC 6749 §4.1.2 recommends at most 10 minutes). */
export const CODE_TTL_MS = 60_000;
/**
 * A code's record outlives the code (60 s) so that a late replay is still recognised as
 * a replay and revokes what the first exchange issued.
 */
export const CODE_RECORD_TTL_MS = CODE_TTL_MS * 10;
/**
 * Unredeemed codes one user may hold per client: past it, issuing a code invalidates the
 * oldest one (a code is used within seconds; ten tabs authorizing at once still work).
 */
export const PENDING_CODES_PER_USER_AND_CLIENT = 10;

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
  /** OpenID Connect: the authorization request's `nonce`, for the ID token. */
  nonce?: string;
  /** OpenID Connect: the public id of the session the code came from (`sid`). */
  sid?: string;
  /** The client's `generation` when the code was issued (src/clients/current.ts). */
  clientGeneration?: string;
  /**
   * The id of the refresh family (grant) the exchange creates, decided when the code is
   * issued: so a replay — even one racing the first exchange — knows what to revoke.
   * Absent only in records written before it was.
   */
  familyId?: string;
}

export type Redemption =
  | { kind: "ok"; data: CodeData }
  /** Presented a second time: whatever the first exchange issued must be revoked. */
  | { kind: "reused"; data: CodeData }
  | { kind: "invalid" };

/**
 * Authorization codes: 256-bit, single use, 60 s, bound to the client, the redirect URI
 * and the PKCE challenge. Stored hashed in the ephemeral store; `consume` makes the
 * single use atomic across instances. At most `PENDING_CODES_PER_USER_AND_CLIENT`
 * unredeemed codes per (user, client) exist at once (a store cap, also atomic).
 */
export class AuthorizationCodes {
  private readonly records: Collection<CodeData>;

  constructor(
    store: EphemeralStore,
    private readonly clock: Clock,
    private readonly format: SecretTokens,
  ) {
    this.records = store.collection<CodeData>("code");
  }

  async issue(data: Omit<CodeData, "issuedAt" | "familyId">): Promise<string> {
    const code = this.format.mint();
    await this.records.upsert(
      sha256(code),
      { ...data, issuedAt: this.clock.now(), familyId: randomId() },
      {
        ttlMs: CODE_RECORD_TTL_MS,
        userId: data.userId,
        cap: {
          group: sha256(`${data.userId}\n${data.clientId}`),
          max: PENDING_CODES_PER_USER_AND_CLIENT,
        },
      },
    );
    return code;
  }

  /** The code's data without consuming it (to check who presents it first). */
  async peek(code: string): Promise<CodeData | undefined> {
    if (!this.format.isOurs(code)) return undefined;
    return (await this.records.find(sha256(code)))?.value;
  }

  async redeem(code: string): Promise<Redemption> {
    if (!this.format.isOurs(code)) return { kind: "invalid" };
    const record = await this.records.consume(sha256(code));
    if (record === undefined) return { kind: "invalid" };
    if (record.consumedAt !== undefined) return { kind: "reused", data: record.value };
    if (this.clock.now() - (record.value.issuedAt ?? 0) >= CODE_TTL_MS) return { kind: "invalid" };
    return { kind: "ok", data: record.value };
  }
}
