import { type ClientChanges, Clients } from "./clients/clients.js";
import { ClientLifecycle } from "./clients/lifecycle.js";
import { type Clock, systemClock } from "./clock.js";
import type { Config } from "./config/defaults.js";
import { loadConfig } from "./config/load.js";
import { SecretTokens } from "./crypto/token-format.js";
import { type Notice, resolveIssuer } from "./installation/issuer.js";
import { resolveKeyActivationDelay } from "./installation/key-timing.js";
import { ACCESS_TOKEN_MAX_TTL_LIMIT, resolveAccessTokenMaxTtl } from "./installation/lifetime.js";
import { assertStoreExists, type DataLocation, locateData } from "./installation/location.js";
import { ensureInstallation } from "./installation/record.js";
import { postgresOptions } from "./installation/schema.js";
import { KeyEncryptionKey } from "./keys/kek.js";
import { SigningKeys } from "./keys/keys.js";
import { keyNotice } from "./keys/notice.js";
import { AuthorizationEndpoint } from "./oauth/authorize.js";
import { AuthorizationCodes } from "./oauth/codes.js";
import { Consents } from "./oauth/consents.js";
import { OAuthEndpoints } from "./oauth/endpoints.js";
import { type BackchannelEvent, BackchannelSender } from "./oidc/backchannel.js";
import { EndSession } from "./oidc/end-session.js";
import { IdTokens } from "./oidc/id-token.js";
import { OidcLogout } from "./oidc/logout.js";
import { Nonces } from "./oidc/nonces.js";
import { RpSessions } from "./oidc/rp-sessions.js";
import { IdTokenStep } from "./oidc/token-step.js";
import { UserInfo } from "./oidc/userinfo.js";
import { FeedFollowers } from "./revocations/followers.js";
import { Revocations } from "./revocations/log.js";
import { RevocationRecovery } from "./revocations/recovery.js";
import { eventRetentionMs } from "./revocations/retention.js";
import { RevocationStreams } from "./revocations/streams.js";
import { PasswordLogin } from "./sessions/login.js";
import { Sessions, type SessionView } from "./sessions/sessions.js";
import { openStores, type Stores } from "./store/open.js";
import type {
  ClientRecord,
  ConsentStore,
  EphemeralStore,
  PoolStats,
  SigningAlg,
  UserRecord,
} from "./store/types.js";
import { ForgeryThrottle } from "./throttle/forgery.js";
import { AccessTokens } from "./tokens/access.js";
import { JwtDenylist } from "./tokens/denylist.js";
import { RefreshTokens } from "./tokens/refresh.js";
import { UserCredentials } from "./users/credentials.js";
import { PasswordHasher } from "./users/passwords.js";
import { Users } from "./users/users.js";

export interface TesseraOptions {
  config?: Config;
  clock?: Clock;
  /** Already-open stores (tests); otherwise opened from the config. */
  stores?: Stores;
  /** Told about risky settings accepted anyway (e.g. an evicting Redis with the override). */
  onWarning?: (message: string) => void;
  /**
   * "serve" (the default): a process that signs. It records the installation's issuer
   * on first start and makes the configured algorithm sign (see `SigningKeys.prepare`).
   * "admin": a CLI command. It uses the recorded issuer and never creates or rotates a
   * signing key by itself.
   */
  role?: "serve" | "admin";
  /**
   * Make a new installation when none is found (`--init`). `serve` always may; an admin
   * command without it is refused with `installation_not_found`, creating nothing.
   */
  create?: boolean;
}

/** The data a Tessera uses (see src/installation/location.ts), and whether it just made it. */
export interface InstallationInUse {
  location: DataLocation;
  /** True when this process created the installation (first `serve`, or `--init`). */
  created: boolean;
}

/** What back-channel logout reports (src/oidc/backchannel.ts, src/oidc/logout.ts). */
export type OidcLogoutEvent = BackchannelEvent | { kind: "error"; err: unknown };
/** How long closing waits for logout tokens still being delivered. */
const BACKCHANNEL_DRAIN_MS = 3000;

/**
 * The domain, wired: stores, users, sessions and the login flows. No HTTP here — the
 * server (src/server) and the CLI (src/cli) both drive this object, through the services
 * it builds: they never touch `stores`, and each of their requests calls one method.
 */
export class Tessera {
  readonly hasher: PasswordHasher;
  readonly users: Users;
  readonly sessions: Sessions;
  readonly passwordLogin: PasswordLogin;
  readonly clients: Clients;
  readonly denylist: JwtDenylist;
  readonly codes: AuthorizationCodes;
  readonly accessTokens: AccessTokens;
  readonly refreshTokens: RefreshTokens;
  /** The one format of every secret bearer token (tag keyed by the installation's secret). */
  readonly secretTokens: SecretTokens;
  /** Introspection's fishing defence: forged tokens per client, tarpit, 429. */
  readonly forgeries: ForgeryThrottle;
  private readonly clientLifecycle: ClientLifecycle;
  /** The only writer of the revocation log (src/revocations/log.ts). */
  private readonly revocations: Revocations;
  /** The revocation feed's streams: bounds, shared snapshots, live events. */
  readonly revocationStreams: RevocationStreams;
  /** Who may follow the revocation feed, and for how long. */
  readonly feedFollowers: FeedFollowers;
  /** GET /oauth/authorize and its consent decision (src/oauth/authorize.ts). */
  readonly authorization: AuthorizationEndpoint;
  /** The token, introspection and revocation endpoints (src/oauth/endpoints.ts). */
  readonly oauth: OAuthEndpoints;
  /** A user's remembered consents: list, withdraw (which cuts the client off). */
  readonly userConsents: Consents;
  /** OpenID Connect's UserInfo endpoint (src/oidc/userinfo.ts). */
  readonly userInfo: UserInfo;
  /** OpenID Connect Back-Channel Logout: who to tell when sessions end (src/oidc/logout.ts). */
  readonly oidcLogout: OidcLogout;
  /** OpenID Connect RP-Initiated Logout's rules (src/oidc/end-session.ts). */
  readonly endSessionEndpoint: EndSession;
  private readonly backchannel: BackchannelSender;
  private readonly backchannelListeners = new Set<(e: OidcLogoutEvent) => void>();
  private readonly credentials: UserCredentials;
  private readonly reloadTimer: NodeJS.Timeout;

  private constructor(
    /**
     * The configuration in force: `issuer` is the installation's (see `resolveIssuer`), and
     * so is `accessTokenMaxTtl` for an admin command (see `resolveAccessTokenMaxTtl`).
     */
    readonly config: Config,
    readonly clock: Clock,
    readonly stores: Stores,
    readonly keys: SigningKeys,
    kek: KeyEncryptionKey,
    /** What opening did that the operator should read (logged by `serve`). */
    readonly notices: readonly Notice[],
    /** Where its data is (every command prints it), and whether opening created it. */
    readonly installation: InstallationInUse,
  ) {
    this.hasher = new PasswordHasher(
      {
        memoryCost: config.argon2MemoryCost,
        timeCost: config.argon2TimeCost,
        parallelism: config.argon2Parallelism,
      },
      {
        concurrency: config.argon2Concurrency,
        maxWaitingPerSource: config.argon2QueuePerSource,
        maxWaiting: config.argon2QueueLimit,
      },
    );
    this.secretTokens = new SecretTokens(kek.derive("token-tag-v1"));
    const format = this.secretTokens;
    this.forgeries = new ForgeryThrottle(clock, {
      limit: config.introspectionForgedLimit,
      windowMs: 60_000,
      tarpitMs: config.introspectionTarpitMs,
      maxPendingPerClient: config.introspectionTarpitPerClient,
      maxPending: config.introspectionTarpitTotal,
    });
    this.users = new Users(stores.durable.users, this.hasher, clock);
    this.sessions = new Sessions(
      stores.ephemeral,
      stores.durable.users,
      clock,
      {
        idleMs: config.sessionIdleTimeout * 1000,
        absoluteMs: config.sessionAbsoluteTimeout * 1000,
        touchIntervalMs: config.sessionTouchInterval * 1000,
      },
      format,
    );
    this.passwordLogin = new PasswordLogin(
      this.users,
      this.hasher,
      stores.ephemeral.counters,
      clock,
      {
        accountLimit: config.loginAccountLimit,
        ipLimit: config.loginIpLimit,
        windowMs: config.loginWindow * 1000,
      },
    );
    this.clients = new Clients(
      stores.durable.clients,
      clock,
      { maxAccessTtl: config.accessTokenMaxTtl },
      format,
      () => keys.signingAlgs(),
    );
    this.revocations = new Revocations(stores.ephemeral.revocations, clock, {
      issuer: config.issuer,
      maxAccessTtl: config.accessTokenMaxTtl,
      kept: stores.durable.keptRevocations,
    });
    this.denylist = new JwtDenylist(stores.ephemeral, clock, this.revocations);
    // A Redis that comes back empty is refilled from the kept revocations (docs/faults.md).
    const recovery = new RevocationRecovery(stores.durable.keptRevocations, this.denylist, clock);
    stores.ephemeral.loss?.setRestorer(async (append) => {
      await recovery.restore(append);
    });
    this.revocationStreams = new RevocationStreams(stores.ephemeral.revocations, clock, {
      perClient: config.eventsStreamsPerClient,
      total: config.eventsStreamsTotal,
      heartbeatMs: config.eventsHeartbeat * 1000,
    });
    this.codes = new AuthorizationCodes(stores.ephemeral, clock, format);
    this.accessTokens = new AccessTokens(
      stores.ephemeral,
      keys,
      clock,
      {
        issuer: config.issuer,
        defaultTtl: config.accessTokenTtl,
        maxTtl: config.accessTokenMaxTtl,
      },
      format,
      this.revocations,
    );
    this.refreshTokens = new RefreshTokens(
      stores.durable.refresh,
      this.accessTokens,
      this.denylist,
      clock,
      kek.derive("refresh-successor"),
      {
        absoluteMs: config.refreshTokenTtl * 1000,
        idleMs: config.refreshTokenIdleTtl * 1000,
        graceMs: config.refreshGraceWindow * 1000,
        issuer: config.issuer,
      },
      format,
    );
    this.clientLifecycle = new ClientLifecycle({
      clients: this.clients,
      refresh: this.refreshTokens,
      access: this.accessTokens,
      consents: stores.durable.consents,
      revocations: this.revocations,
      clock,
    });
    const rpSessions = new RpSessions(stores.ephemeral, config.sessionAbsoluteTimeout * 1000);
    const report = (e: OidcLogoutEvent) => {
      for (const listener of this.backchannelListeners) listener(e);
    };
    this.backchannel = new BackchannelSender(undefined, report);
    this.oidcLogout = new OidcLogout({
      rpSessions,
      clients: this.clients,
      keys,
      clock,
      issuer: config.issuer,
      sender: this.backchannel,
      onEvent: report,
    });
    this.endSessionEndpoint = new EndSession({
      clients: this.clients,
      keys,
      issuer: config.issuer,
    });
    this.credentials = new UserCredentials({
      afterRevokeAll: (userId) => this.oidcLogout.userEnded(userId),
      users: this.users,
      sessions: this.sessions,
      passwordLogin: this.passwordLogin,
      refresh: this.refreshTokens,
      access: this.accessTokens,
      revocations: this.revocations,
      clock,
    });
    this.feedFollowers = new FeedFollowers(this.clients);
    this.userConsents = new Consents(stores.durable.consents, this.refreshTokens);
    this.authorization = new AuthorizationEndpoint({
      clients: this.clients,
      consents: stores.durable.consents,
      codes: this.codes,
      interactions: stores.ephemeral.collection("interaction"),
      nonces: new Nonces(stores.ephemeral),
      secretTokens: format,
      clock,
      issuer: config.issuer,
    });
    this.oauth = new OAuthEndpoints({
      clients: this.clients,
      users: stores.durable.users,
      consents: stores.durable.consents,
      codes: this.codes,
      access: this.accessTokens,
      refresh: this.refreshTokens,
      denylist: this.denylist,
      keys,
      forgeries: this.forgeries,
      secretTokens: format,
      clock,
      issuer: config.issuer,
      idTokens: new IdTokenStep(
        new IdTokens(keys, clock, {
          issuer: config.issuer,
          ttlSeconds: Math.min(config.idTokenTtl, config.accessTokenMaxTtl),
        }),
        rpSessions,
      ),
    });
    this.userInfo = new UserInfo({
      activeAccessToken: (token) => this.oauth.activeAccessToken(token),
      users: stores.durable.users,
    });
    // Picks up keys rotated by another process (the CLI, another instance).
    this.reloadTimer = setInterval(() => {
      keys.reload().catch(() => {
        // Keep the keys already loaded; the next tick tries again.
      });
    }, config.keysReloadInterval * 1000);
    this.reloadTimer.unref();
  }

  /** What ID tokens can be signed with now: the access-token key's algorithm and RS256. */
  idTokenAlgs(): SigningAlg[] {
    return this.keys.signingAlgs();
  }

  /** The consent store itself (tests). Rules: `userConsents`, `authorization`, the grants. */
  get consents(): ConsentStore {
    return this.stores.durable.consents;
  }

  static async open(options: TesseraOptions = {}): Promise<Tessera> {
    const config = options.config ?? loadConfig();
    const clock = options.clock ?? systemClock;
    const serve = (options.role ?? "serve") === "serve";
    const create = serve || options.create === true;
    const location = locateData(config);
    // Opening a SQLite store creates its file: look before opening.
    if (options.stores === undefined && !create) assertStoreExists(location);
    const stores =
      options.stores ??
      (await openStores({
        db: config.db,
        redis: config.redis,
        redisPrefix: config.redisPrefix,
        clock,
        sweepIntervalMs: config.sweepInterval * 1000,
        postgres: postgresOptions(config),
        redisAllowEviction: config.redisAllowEviction,
        // An admin command does not know yet how long the servers' tokens live (recorded
        // with the data): what it appends is kept until the event's own `exp`, and an append
        // never trims what a server still needs.
        eventRetentionMs: eventRetentionMs(
          serve ? config.accessTokenMaxTtl : ACCESS_TOKEN_MAX_TTL_LIMIT,
        ),
        ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      }));
    try {
      const created = await ensureInstallation(stores.durable.installation, location, {
        create,
        now: clock.now(),
      });
      const { issuer, notices } = await resolveIssuer(stores.durable.installation, config, serve);
      const accessTokenMaxTtl = await resolveAccessTokenMaxTtl(
        stores.durable.installation,
        config,
        serve,
      );
      const keyActivationDelay = await resolveKeyActivationDelay(
        stores.durable.installation,
        config,
        serve,
      );
      const kek = KeyEncryptionKey.load({
        secret: config.secret,
        dataDir: location.secretFile === undefined ? undefined : location.dataDir,
      });
      const keys = new SigningKeys(stores.durable.keys, kek, clock, {
        alg: config.signingAlg as SigningAlg,
        activationDelayMs: keyActivationDelay * 1000,
        maxTokenTtlMs: accessTokenMaxTtl * 1000,
        toleranceMs: 60_000,
        idTokenCompanion: true,
      });
      if (serve) {
        const prepared = await keys.prepare(config.sources.signingAlg !== undefined);
        const notice = keyNotice(prepared);
        if (notice !== undefined) notices.push(notice);
      } else {
        await keys.reload();
      }
      const tessera = new Tessera(
        { ...config, issuer, accessTokenMaxTtl },
        clock,
        stores,
        keys,
        kek,
        notices,
        { location, created },
      );
      // Found without its data: refilled before serving (if that fails, the first
      // requests that need it answer 503 and retry it).
      await stores.ephemeral.loss?.check().catch(() => {});
      return tessera;
    } catch (err) {
      if (options.stores === undefined) await stores.close();
      throw err;
    }
  }

  /**
   * Password login. Any session the client presented is ended first (no fixation: a
   * login always gets a new id). Returns the new session's token for the cookie.
   */
  async login(input: {
    username: string;
    password: string;
    ip: string;
    userAgent?: string | undefined;
    remember?: boolean;
    presentedTokens?: readonly string[];
  }): Promise<{ user: UserRecord; token: string; session: SessionView }> {
    const user = await this.passwordLogin.verify(input);
    for (const t of input.presentedTokens ?? []) await this.sessions.destroyToken(t);
    const remember = (input.remember ?? false) && this.config.sessionRememberMe;
    const { token, session } = await this.sessions.create(user, {
      userAgent: input.userAgent,
      remember,
    });
    return { user, token, session };
  }

  /** Signs the session out (POST /logout): relying parties it logged in to are told. */
  async logout(current: { key: string; user: { id: string }; session: { id: string } }) {
    await this.sessions.destroy(current.key);
    await this.oidcLogout.sessionEnded(current.user.id, current.session.id);
  }

  /** Ends one session of the user by its public id (DELETE /sessions/:id), telling its RPs. */
  async endSession(userId: string, publicId: string): Promise<void> {
    await this.sessions.destroyByPublicId(userId, publicId);
    await this.oidcLogout.sessionEnded(userId, publicId);
  }

  /** Back-channel logout deliveries (for the log); returns an unsubscribe function. */
  onBackchannel(listener: (e: OidcLogoutEvent) => void): () => void {
    this.backchannelListeners.add(listener);
    return () => this.backchannelListeners.delete(listener);
  }

  /** See UserCredentials.changePassword (src/users/credentials.ts). */
  changePassword(
    input: Parameters<UserCredentials["changePassword"]>[0],
  ): Promise<{ token: string; session: SessionView }> {
    return this.credentials.changePassword(input);
  }

  /** Ends every credential of the user (src/users/credentials.ts). */
  revokeAllForUser(userId: string): Promise<void> {
    return this.credentials.revokeAll(userId);
  }

  /**
   * Removes a client and ends everything it was given: refresh families, access tokens,
   * consents, open revocation-feed streams (src/clients/lifecycle.ts).
   */
  removeClient(id: string): Promise<void> {
    return this.clientLifecycle.remove(id);
  }

  /** Changes a client; a narrowing takes effect on what it holds (src/clients/lifecycle.ts). */
  updateClient(id: string, changes: ClientChanges): Promise<ClientRecord> {
    return this.clientLifecycle.update(id, changes);
  }

  /** A new secret; the old one, and feed streams opened with it, end at once. */
  rotateClientSecret(id: string): Promise<string> {
    return this.clientLifecycle.rotateSecret(id);
  }

  /** An administrator sets a user's password: every credential of the user ends. */
  resetPassword(name: string, password: string): Promise<UserRecord> {
    return this.credentials.resetPassword(name, password);
  }

  disableUser(name: string): Promise<UserRecord> {
    return this.credentials.disable(name);
  }

  enableUser(name: string): Promise<UserRecord> {
    return this.credentials.enable(name);
  }

  /** The durable store's connection pool now (PostgreSQL), or undefined (no pool). */
  poolStats(): PoolStats | undefined {
    return this.stores.durable.poolStats?.();
  }

  /**
   * The dependencies that do not answer now, by name (`postgres`, `redis`, `sqlite`):
   * empty when this instance can serve. Each is pinged once, in parallel, and one that
   * has not answered within `timeoutMs` counts as down (a probe never hangs).
   */
  async unavailableDependencies(timeoutMs = READINESS_TIMEOUT_MS): Promise<string[]> {
    const checks: Array<{ name: string; store: EphemeralStore }> = [
      { name: this.stores.durable.kind, store: this.stores.durable.ephemeral },
    ];
    if (this.stores.ephemeral !== this.stores.durable.ephemeral) {
      checks.push({ name: this.stores.ephemeral.kind, store: this.stores.ephemeral });
    }
    const answers = await Promise.all(
      checks.map(({ store }) => answersWithin(store.ping(), timeoutMs)),
    );
    return checks.filter((_, i) => !answers[i]).map((c) => c.name);
  }

  async close(): Promise<void> {
    clearInterval(this.reloadTimer);
    this.revocationStreams.close();
    // A CLI command that ended sessions exits right after: its logout tokens go out first
    // (bounded: a relying party that does not answer does not hold the process).
    await this.backchannel.drain(BACKCHANNEL_DRAIN_MS);
    this.backchannel.close();
    await this.stores.close();
  }
}

/** How long a readiness probe waits for each store's ping. */
export const READINESS_TIMEOUT_MS = 2_000;

/** True when `ping` resolves within `ms`; false when it rejects or takes longer. */
async function answersWithin(ping: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      ping.then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
