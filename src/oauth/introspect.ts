import type { Clients } from "../clients/clients.js";
import { allowedScope, endedByClient, ofCurrentGeneration } from "../clients/current.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { ClientRecord, UserRecord, UserStore } from "../store/types.js";
import type { ForgeryThrottle } from "../throttle/forgery.js";
import type { JwtDenylist } from "../tokens/denylist.js";
import { audClaim } from "../tokens/jwt/issue.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import { endedByUser, type IssuedAt, mintIat } from "../users/cutoff.js";
import { authenticateClient, type FormParams } from "./client-auth.js";
import type { TokenIdentifier } from "./identify.js";

/** RFC 7662 §2.2 response. Anything not active is exactly `{ active: false }`. */
export type IntrospectionResponse =
  | { active: false }
  | {
      active: true;
      scope?: string;
      client_id: string;
      sub: string;
      aud: string | string[];
      iss: string;
      exp: number;
      iat: number;
      jti?: string;
      token_type: "Bearer" | "refresh_token";
      fgp?: string;
    };

export const INACTIVE: IntrospectionResponse = Object.freeze({
  active: false,
}) as IntrospectionResponse;

export type ActiveResponse = IntrospectionResponse & { active: true };

/** A live token as the lookup found it, before the user's state is consulted. */
interface Found {
  answer: ActiveResponse;
  /** When the credential was issued, for the user cutoff (src/users/cutoff.ts). */
  issued: IssuedAt;
  /** For a refresh token: when it was minted (ms), to report `iat` as a mint would set it. */
  mintedAt?: number;
  /** For a refresh token: the generation of the client its family was given to. */
  clientGeneration?: string;
}

export interface IntrospectionDeps {
  clients: Clients;
  tokens: TokenIdentifier;
  refresh: RefreshTokens;
  denylist: JwtDenylist;
  clock: Clock;
  issuer: string;
  /** Users by id: the cached reads (src/cache/users.ts) in a server. */
  users: Pick<UserStore, "findUserById">;
  /** Counts forged tokens per client; tarpits and refuses fishing clients. */
  forgeries: ForgeryThrottle;
}

/** lookup's answer for a value that is not a token of ours (nothing was looked up). */
const FORGED = Symbol("forged");

/**
 * POST /oauth/introspect (RFC 7662). Only authenticated clients registered with
 * `--introspect` may ask. Active: opaque access tokens, JWT access tokens of this issuer
 * (signature, expiry, denylist), and refresh tokens — the latter only for the client that
 * owns them. A client sees only tokens meant for its audience or issued to it. Everything
 * else gets exactly `{"active":false}`, same status, same body.
 *
 * Fishing (docs/introspection-fishing.md): a value that is not a token this installation
 * issued (no valid tag, not our JWT) is answered `active:false` without any store lookup
 * and counted against the client; past its limit the client's forged tokens are
 * tarpitted, then refused with 429. Genuine tokens — live or dead — are looked up and
 * answered at once, always: the only 429 this endpoint gives is for a forged token.
 */
export class Introspection {
  constructor(private readonly deps: IntrospectionDeps) {}

  async handle(
    authorization: string | undefined,
    params: FormParams,
  ): Promise<IntrospectionResponse> {
    const client = await authenticateClient(this.deps.clients, authorization, params);
    if (!client.introspect) {
      throw new TesseraError("invalid_client", "This client may not introspect tokens.", {
        oauthError: "invalid_client",
      });
    }
    const token = params.token;
    if (token === undefined) {
      throw new TesseraError("invalid_request", "Missing token.", {
        oauthError: "invalid_request",
      });
    }
    const looked = await this.lookup(token, client.id);
    if (looked === FORGED) {
      // Counted, and for a fishing client delayed or refused (429). Never for a genuine
      // token: a dead one keeps its immediate `active:false`, a live one its answer.
      await this.deps.forgeries.forged(client.id);
      return INACTIVE;
    }
    const found = await this.judge(looked, client);
    // A resource server learns about tokens meant for it (its audience) or issued to it,
    // nothing else (RFC 7662 §4).
    return found.active && !this.maySee(client, found) ? INACTIVE : found;
  }

  /**
   * A live access token (never a refresh token), judged as `handle` judges it but for no
   * particular client and without counting forgeries: for OpenID Connect's userinfo, where
   * the token is the only credential. Undefined for anything not active.
   */
  async activeAccessToken(token: string): Promise<ActiveResponse | undefined> {
    const looked = await this.lookup(token, "");
    if (looked === FORGED || looked === undefined) return undefined;
    if (looked.answer.token_type !== "Bearer") return undefined;
    const found = await this.judge(looked);
    return found.active ? found : undefined;
  }

  /**
   * A genuine token's answer, once the state of its client and of its user are consulted.
   * The two reads are independent and made together (one round trip's wait on a networked
   * store, not two). `asking`: the authenticated client, read moments ago in this request,
   * stands for the token's client when it is the same one (no second read). A token whose
   * `sub` is its client id (client_credentials) has no user: client ids and user ids never
   * meet (src/crypto/random.ts, isRandomIdShaped), so there is no user record to read.
   */
  private async judge(
    looked: Found | undefined,
    asking?: ClientRecord,
  ): Promise<IntrospectionResponse> {
    if (looked === undefined) return INACTIVE;
    const { answer } = looked;
    const [owner, user] = await Promise.all([
      asking !== undefined && asking.id === answer.client_id
        ? asking
        : this.deps.clients.findCached(answer.client_id),
      answer.sub === answer.client_id ? undefined : this.deps.users.findUserById(answer.sub),
    ]);
    return this.withUserCutoff(this.withClientState(looked, owner), user);
  }

  /**
   * A token of a user is inactive once the user is disabled or ended every grant after it
   * was issued (password change, log out everywhere): the durable record decides, so
   * this holds for tokens no revocation list names. Exactly in ms where the issue time
   * is recorded (opaque tokens, refresh families), by `iat` for JWTs.
   */
  private withUserCutoff(
    found: Found | undefined,
    user: UserRecord | undefined,
  ): IntrospectionResponse {
    if (found === undefined) return INACTIVE;
    const { answer } = found;
    if (user === undefined) return answer;
    if (endedByUser(user, found.issued)) return INACTIVE;
    if (found.mintedAt !== undefined) answer.iat = mintIat(found.mintedAt, user.sessionsValidAfter);
    return answer;
  }

  /**
   * A token is inactive once the client it was issued to is gone, was registered anew, or
   * was narrowed after it was issued (src/clients/current.ts). A refresh token is its
   * family's: it lives through a narrowing, and its scope and audience are what the
   * client may hand out now.
   */
  private withClientState(found: Found, owner: ClientRecord | undefined): Found | undefined {
    const { answer } = found;
    if (owner === undefined) return undefined;
    if (answer.token_type === "refresh_token") {
      if (!ofCurrentGeneration(owner, found.clientGeneration)) return undefined;
      answer.aud = audClaim(owner.audience);
      const scope = allowedScope(owner, answer.scope?.split(" ") ?? []);
      if (scope.length > 0) answer.scope = scope.join(" ");
      else delete answer.scope;
      return found;
    }
    return endedByClient(owner, found.issued) ? undefined : found;
  }

  private maySee(client: ClientRecord, found: ActiveResponse): boolean {
    if (found.client_id === client.id) return true;
    const aud = typeof found.aud === "string" ? [found.aud] : found.aud;
    return aud.some((a) => client.audience.includes(a));
  }

  /**
   * token_type_hint is ignored: every kind is looked for. Undefined: not active (a
   * genuine token that is dead); FORGED: not a token of ours at all (nothing looked up).
   */
  private async lookup(
    token: string,
    clientId: string,
  ): Promise<Found | undefined | typeof FORGED> {
    if (token.length > 8192) return FORGED;
    const found = await this.deps.tokens.identify(token);
    if (found === undefined) return undefined;
    switch (found.kind) {
      case "forged":
        return FORGED;
      case "opaque": {
        const d = found.data;
        const out: ActiveResponse = {
          active: true,
          client_id: d.clientId,
          sub: d.sub,
          aud: audClaim(d.aud),
          iss: d.iss,
          exp: d.exp,
          iat: d.iat,
          jti: d.jti,
          token_type: "Bearer",
        };
        if (d.scope.length > 0) out.scope = d.scope.join(" ");
        if (d.fgp !== undefined) out.fgp = d.fgp;
        return {
          answer: out,
          issued: d.issuedAt === undefined ? { iat: d.iat } : { ms: d.issuedAt },
        };
      }
      case "refresh": {
        const f = found.family;
        if (f.clientId !== clientId || !this.deps.refresh.isActive(found)) return undefined;
        const out: ActiveResponse = {
          active: true,
          client_id: f.clientId,
          sub: f.userId,
          aud: [], // the client's audience now (withClientState)
          iss: this.deps.issuer,
          exp: Math.floor(found.token.expiresAt / 1000),
          iat: Math.floor(found.token.createdAt / 1000),
          token_type: "refresh_token",
        };
        if (f.scope.length > 0) out.scope = f.scope.join(" ");
        // A refresh token is as old as its family (its authorization).
        const refresh: Found = {
          answer: out,
          issued: { ms: f.createdAt },
          mintedAt: found.token.createdAt,
        };
        if (f.clientGeneration !== undefined) refresh.clientGeneration = f.clientGeneration;
        return refresh;
      }
      case "jwt": {
        const claims = found.claims;
        const now = this.deps.clock.now() / 1000;
        if (claims.exp <= now || (await this.deps.denylist.isRevoked(claims.jti, claims.iss))) {
          return undefined;
        }
        const out: ActiveResponse = {
          active: true,
          client_id: claims.client_id,
          sub: claims.sub,
          aud: claims.aud,
          iss: claims.iss,
          exp: claims.exp,
          iat: claims.iat,
          jti: claims.jti,
          token_type: "Bearer",
        };
        if (claims.scope !== undefined) out.scope = claims.scope;
        if (claims.fgp !== undefined) out.fgp = claims.fgp;
        return { answer: out, issued: { iat: claims.iat } };
      }
    }
  }
}
