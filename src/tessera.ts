import { AuditQueries } from "./audit/query.js";
import { AuditTrail } from "./audit/recorder.js";
import { type ClientChanges, Clients } from "./clients/clients.js";
import { ClientLifecycle } from "./clients/lifecycle.js";
import { type Clock, systemClock } from "./clock.js";
import { type CacheServices, composeCaches } from "./compose/caches.js";
import { composeOidc, type OidcLogoutEvent } from "./compose/oidc.js";
import { openConfiguredStores, resolveInstallation } from "./compose/open.js";
import { composeRevocations, composeTokens } from "./compose/tokens.js";
import { composeUsers } from "./compose/users.js";
import type { Config } from "./config/defaults.js";
import { loadConfig } from "./config/load.js";
import { SecretTokens } from "./crypto/token-format.js";
import type { Notice } from "./installation/issuer.js";
import { assertStoreExists, type DataLocation, locateData } from "./installation/location.js";
import { ensureInstallation } from "./installation/record.js";
import type { KeyEncryptionKey } from "./keys/kek.js";
import type { SigningKeys } from "./keys/keys.js";
import { AuthorizationEndpoint } from "./oauth/authorize.js";
import type { AuthorizationCodes } from "./oauth/codes.js";
import { Consents } from "./oauth/consents.js";
import { OAuthEndpoints } from "./oauth/endpoints.js";
import type { BackchannelSender } from "./oidc/backchannel.js";
import type { EndSession } from "./oidc/end-session.js";
import type { OidcLogout } from "./oidc/logout.js";
import { Nonces } from "./oidc/nonces.js";
import { UserInfo } from "./oidc/userinfo.js";
import { FeedFollowers } from "./revocations/followers.js";
import type { Revocations } from "./revocations/log.js";
import type { RevocationStreams } from "./revocations/streams.js";
import type { PasswordLogin } from "./sessions/login.js";
import type { Sessions, SessionView } from "./sessions/sessions.js";
import type { Stores } from "./store/open.js";
import { READINESS_TIMEOUT_MS, unavailableDependencies } from "./store/readiness.js";
import type {
  ClientRecord,
  ConsentStore,
  PoolStats,
  SigningAlg,
  UserRecord,
} from "./store/types.js";
import { ForgeryThrottle } from "./throttle/forgery.js";
import type { AccessTokens } from "./tokens/access.js";
import type { JwtDenylist } from "./tokens/denylist.js";
import type { RefreshTokens } from "./tokens/refresh.js";
import { UserCredentials } from "./users/credentials.js";
import type { PasswordHasher } from "./users/passwords.js";
import type { Users } from "./users/users.js";

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

export type { OidcLogoutEvent } from "./compose/oidc.js";
export { READINESS_TIMEOUT_MS } from "./store/readiness.js";

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
  /** The audit trail's writer: the server listens to it (log lines, /metrics). */
  readonly auditTrail: AuditTrail;
  /** Reads the audit trail (`tessera audit`). */
  readonly audit: AuditQueries;
  private readonly backchannel: BackchannelSender;
  private readonly backchannelListeners = new Set<(e: OidcLogoutEvent) => void>();
  private readonly credentials: UserCredentials;
  private readonly reloadTimer: NodeJS.Timeout;
  /** The in-process caches of users, sessions, clients and opaque tokens, and their evictions (src/cache). */
  readonly caches: CacheServices;

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
    audit: AuditTrail,
    /** A server caches (and follows the log to evict); a CLI command only announces. */
    caching: boolean,
  ) {
    this.auditTrail = audit;
    this.revocations = composeRevocations(config, clock, stores);
    this.caches = composeCaches(config, clock, stores, this.revocations, caching);
    this.secretTokens = new SecretTokens(kek.derive("token-tag-v1"));
    const format = this.secretTokens;
    this.forgeries = new ForgeryThrottle(
      clock,
      {
        limit: config.introspectionForgedLimit,
        windowMs: 60_000,
        tarpitMs: config.introspectionTarpitMs,
        maxPendingPerClient: config.introspectionTarpitPerClient,
        maxPending: config.introspectionTarpitTotal,
      },
      audit,
    );
    const people = composeUsers(config, clock, stores, format, audit, this.caches);
    this.hasher = people.hasher;
    this.users = people.users;
    this.sessions = people.sessions;
    this.passwordLogin = people.passwordLogin;
    this.clients = new Clients(
      this.caches.clientWrites,
      clock,
      { maxAccessTtl: config.accessTokenMaxTtl },
      format,
      () => keys.signingAlgs(),
      audit,
      this.caches.clients,
    );
    const tokens = composeTokens(
      config,
      clock,
      stores,
      keys,
      kek,
      format,
      this.revocations,
      this.caches.opaqueRecords,
    );
    this.denylist = tokens.denylist;
    this.revocationStreams = tokens.revocationStreams;
    this.codes = tokens.codes;
    this.accessTokens = tokens.accessTokens;
    this.refreshTokens = tokens.refreshTokens;
    this.clientLifecycle = new ClientLifecycle({
      clients: this.clients,
      refresh: this.refreshTokens,
      access: this.accessTokens,
      consents: stores.durable.consents,
      revocations: this.revocations,
      clock,
      audit,
    });
    const oidc = composeOidc(config, clock, stores, keys, this.clients, (e) => {
      for (const listener of this.backchannelListeners) listener(e);
    });
    this.backchannel = oidc.backchannel;
    this.oidcLogout = oidc.oidcLogout;
    this.endSessionEndpoint = oidc.endSessionEndpoint;
    this.credentials = new UserCredentials({
      afterRevokeAll: (userId) => this.oidcLogout.userEnded(userId),
      users: this.users,
      sessions: this.sessions,
      passwordLogin: this.passwordLogin,
      refresh: this.refreshTokens,
      access: this.accessTokens,
      revocations: this.revocations,
      clock,
      audit,
    });
    this.feedFollowers = new FeedFollowers(this.clients);
    this.userConsents = new Consents(stores.durable.consents, this.refreshTokens, audit);
    this.audit = new AuditQueries(stores.durable.audit, this.users, clock);
    this.authorization = new AuthorizationEndpoint({
      clients: this.clients,
      consents: stores.durable.consents,
      codes: this.codes,
      interactions: stores.ephemeral.collection("interaction"),
      nonces: new Nonces(stores.ephemeral),
      secretTokens: format,
      clock,
      issuer: config.issuer,
      audit,
    });
    this.oauth = new OAuthEndpoints({
      clients: this.clients,
      users: stores.durable.users,
      cachedUsers: this.caches.userReads,
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
      idTokens: oidc.idTokenStep,
      audit,
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

  /** What ID tokens can be signed with now: the access-token key's algorithm and its companions'. */
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
      options.stores ?? (await openConfiguredStores(config, clock, serve, options.onWarning));
    try {
      const created = await ensureInstallation(stores.durable.installation, location, {
        create,
        now: clock.now(),
      });
      // What a command does is the operator's (`cli`); what a server does by itself, the system's.
      const audit = new AuditTrail(stores.durable.audit, clock, serve ? "system" : "cli");
      const resolved = await resolveInstallation(stores, config, clock, location, serve, audit);
      const tessera = new Tessera(
        resolved.config,
        clock,
        stores,
        resolved.keys,
        resolved.kek,
        resolved.notices,
        { location, created },
        audit,
        serve,
      );
      // Found without its data: refilled before serving (if that fails, the first
      // requests that need it answer 503 and retry it).
      await stores.ephemeral.loss?.check().catch(() => {});
      // A server's caches follow the log (its refill above done) until `close`.
      if (serve) tessera.caches.evictions.start();
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
    await this.sessions.logout(current.key, current.user.id, current.session.id);
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
   * empty when this instance can serve (src/store/readiness.ts).
   */
  unavailableDependencies(timeoutMs = READINESS_TIMEOUT_MS): Promise<string[]> {
    return unavailableDependencies(this.stores, timeoutMs);
  }

  async close(): Promise<void> {
    clearInterval(this.reloadTimer);
    this.caches.evictions.stop();
    this.revocationStreams.close();
    // A CLI command that ended sessions exits right after: its logout tokens go out first
    // (bounded: a relying party that does not answer does not hold the process).
    await this.backchannel.drain(BACKCHANNEL_DRAIN_MS);
    this.backchannel.close();
    await this.stores.close();
  }
}
