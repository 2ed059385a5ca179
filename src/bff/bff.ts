/**
 * The BFF's domain: every rule about its sessions lives here (the plugin only translates
 * HTTP). A session is created by a finished login, opened by its cookie, refreshed once
 * when its access token is about to expire (single flight per session in a process;
 * across processes Tessera's grace window gives racers the same successor), and ended by
 * logout, by a refused refresh, by its absolute lifetime, or by the revocation feed.
 */
import { systemClock } from "../clock.js";
import { sha256 } from "../crypto/random.js";
import { TesseraError } from "../errors.js";
import type { EphemeralStore } from "../store/types.js";
import { BffFeed } from "./feed.js";
import { GrantRefused, IssuerClient, type TokenAnswer } from "./issuer-client.js";
import { type CallbackParams, Logins, type PendingLogin, type StartedLogin } from "./login.js";
import { type BffOptions, type ResolvedBffOptions, resolveBffOptions } from "./options.js";
import {
  type BffIdentity,
  type BffSession,
  BffSessionStore,
  type BffTokens,
} from "./session-store.js";
import { SingleFlight } from "./single-flight.js";

/** What `/bff/user` answers: who, and until when. No token. */
export interface BffUser {
  sub: string;
  scope: string | undefined;
  /** ISO 8601 */
  createdAt: string;
  /** ISO 8601: the session's absolute end. */
  expiresAt: string;
}

export interface BffHooks {
  /** Told about background failures (the feed, a revocation at logout); never a token. */
  onError?: (err: Error) => void;
}

function ended(): TesseraError {
  return new TesseraError("unauthenticated", "The session has ended; log in again.");
}

export class Bff {
  readonly options: ResolvedBffOptions;
  readonly sessions: BffSessionStore;
  readonly logins: Logins;
  readonly issuer: IssuerClient;
  readonly feed: BffFeed | undefined;
  private readonly flights: SingleFlight<BffSession>;
  private readonly clock;
  /** Refreshes this process asked Tessera for (tests, the bench). */
  refreshes = 0;

  constructor(options: BffOptions, store: EphemeralStore, hooks: BffHooks = {}) {
    this.options = resolveBffOptions(options);
    this.clock = options.clock ?? systemClock;
    const o = this.options;
    this.issuer = new IssuerClient(o);
    this.sessions = new BffSessionStore(
      store.collection("bff_session"),
      this.clock,
      o.sessionsPerUser,
    );
    this.logins = new Logins(
      o,
      store.collection<PendingLogin>("bff_login"),
      this.issuer,
      store.counters,
      this.clock,
    );
    this.flights = new SingleFlight(o.refreshWaiters);
    const onError = hooks.onError ?? (() => {});
    this.feed = o.revocations
      ? new BffFeed(
          o,
          this.clock,
          { endUserBefore: (s, b) => this.sessions.destroyUserBefore(s, b) },
          onError,
        )
      : undefined;
    this.feed?.start();
  }

  startLogin(
    returnTo: string | undefined,
    source: string,
    browserNonce?: string,
  ): Promise<StartedLogin> {
    return this.logins.start(returnTo, source, browserNonce);
  }

  /** Finishes a login: returns the new session's cookie value and where to go. */
  async finishLogin(
    params: CallbackParams,
    nonce: string | undefined,
  ): Promise<{ cookie: string; returnTo: string }> {
    const { returnTo, tokens } = await this.logins.finish(params, nonce);
    const now = this.clock.now();
    const built = await this.tokensOf(tokens);
    const identity: BffIdentity = {
      sub: built.sub,
      scope: tokens.scope,
      createdAt: now,
      expiresAt: now + this.options.sessionTtl * 1000,
    };
    const cookie = await this.sessions.create(identity, built.tokens);
    return { cookie, returnTo };
  }

  /** The session's tokens and facts, from a token answer (introspected: sub, iat, jti). */
  private async tokensOf(a: TokenAnswer): Promise<{ sub: string; tokens: BffTokens }> {
    const facts = await this.issuer.introspect(a.accessToken);
    if (facts === undefined) throw ended();
    const now = this.clock.now();
    const expiresIn = a.expiresIn > 0 ? a.expiresIn : Math.max(0, facts.exp - now / 1000);
    return {
      sub: facts.sub,
      tokens: {
        accessToken: a.accessToken,
        refreshToken: a.refreshToken,
        accessExpiresAt: Math.min(now + expiresIn * 1000, facts.exp * 1000),
        jti: facts.jti,
        accessHash: sha256(a.accessToken),
        iat: facts.iat,
      },
    };
  }

  /**
   * True while the access token has more than `refreshSkew` to live — or, for a token
   * whose whole lifetime is shorter than twice that, more than half its lifetime (else a
   * 30-second token would be refreshed on every request).
   */
  private fresh(s: BffSession): boolean {
    const lifetime = s.accessExpiresAt - s.iat * 1000;
    const skew = Math.min(this.options.refreshSkew * 1000, lifetime / 2);
    return s.accessExpiresAt - skew > this.clock.now();
  }

  /** The live session of a cookie, or `unauthenticated`; ends it if the feed revoked it. */
  private async open(cookie: string | undefined): Promise<BffSession> {
    if (cookie === undefined) throw new TesseraError("unauthenticated");
    const s = await this.sessions.open(cookie);
    if (s === undefined || s.expiresAt <= this.clock.now()) throw ended();
    if (this.feed?.isRevoked(s) === true) {
      await this.sessions.destroy(cookie);
      throw ended();
    }
    return s;
  }

  /** Who the session is for (no token). */
  async user(cookie: string | undefined): Promise<BffUser> {
    const s = await this.open(cookie);
    return {
      sub: s.sub,
      scope: s.scope,
      createdAt: new Date(s.createdAt).toISOString(),
      expiresAt: new Date(s.expiresAt).toISOString(),
    };
  }

  /**
   * The session with an access token good for at least `refreshSkew` more seconds:
   * refreshed if needed, once for all concurrent callers. `rejected`: an access token an
   * upstream refused as invalid (its clock, a revocation): refreshed then too, unless the
   * session already holds another one. A refused refresh ends the session
   * (`unauthenticated`).
   */
  async session(cookie: string | undefined, rejected?: string): Promise<BffSession> {
    const s = await this.open(cookie);
    if (this.usable(s, rejected)) return s;
    return this.flights.run(sha256(cookie as string), () =>
      this.refresh(cookie as string, rejected),
    );
  }

  private usable(s: BffSession, rejected: string | undefined): boolean {
    return this.fresh(s) && s.accessToken !== rejected;
  }

  private async refresh(cookie: string, rejected: string | undefined): Promise<BffSession> {
    // Read again: another instance sharing the store may have refreshed meanwhile.
    const s = await this.open(cookie);
    if (this.usable(s, rejected)) return s;
    if (s.refreshToken === undefined) {
      await this.sessions.destroy(cookie);
      throw ended();
    }
    let answer: TokenAnswer;
    try {
      this.refreshes++;
      answer = await this.issuer.refresh(s.refreshToken);
    } catch (err) {
      if (err instanceof GrantRefused) {
        await this.sessions.destroy(cookie);
        throw ended();
      }
      throw err;
    }
    const { tokens } = await this.tokensOf(answer);
    // Tessera may rotate without handing out a new refresh token: keep the old one then.
    const next: BffTokens = { ...tokens, refreshToken: tokens.refreshToken ?? s.refreshToken };
    const identity: BffIdentity = {
      sub: s.sub,
      scope: answer.scope ?? s.scope,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
    };
    if (!(await this.sessions.update(cookie, identity, next))) throw ended();
    return { ...identity, ...next };
  }

  /**
   * Ends the session: its refresh token (and so its family, with every access token of
   * it) is revoked at Tessera, and the record destroyed. Ending an unknown session is not
   * an error. A revocation that fails is reported to `onError`; the session ends anyway.
   */
  async logout(cookie: string | undefined, onError: (err: Error) => void): Promise<void> {
    if (cookie === undefined) return;
    const s = await this.sessions.open(cookie);
    await this.sessions.destroy(cookie);
    if (s?.refreshToken !== undefined) {
      await this.issuer.revoke(s.refreshToken).catch((err: Error) => onError(err));
    }
  }

  close(): void {
    this.feed?.close();
  }
}
