import type { AuditQueries } from "./audit/query.js";
import type { AuditTrail } from "./audit/recorder.js";
import type { ClientChanges, Clients } from "./clients/clients.js";
import type { ClientLifecycle } from "./clients/lifecycle.js";
import type { Clock } from "./clock.js";
import type { CacheServices } from "./compose/caches.js";
import type { OidcLogoutEvent } from "./compose/oidc.js";
import {
  closingStoresOnFailure,
  type OpenedInstallation,
  openInstallation,
} from "./compose/open.js";
import { reloadKeysEvery, startRunning, stopRunning } from "./compose/running.js";
import { composeServices } from "./compose/services.js";
import type { Config } from "./config/defaults.js";
import type { SecretTokens } from "./crypto/token-format.js";
import type { Notice } from "./installation/issuer.js";
import type { DataLocation } from "./installation/location.js";
import type { SigningKeys } from "./keys/keys.js";
import type { AuthorizationEndpoint } from "./oauth/authorize.js";
import type { AuthorizationCodes } from "./oauth/codes.js";
import type { Consents } from "./oauth/consents.js";
import type { OAuthEndpoints } from "./oauth/endpoints.js";
import type { BackchannelSender } from "./oidc/backchannel.js";
import type { EndSession } from "./oidc/end-session.js";
import type { OidcLogout } from "./oidc/logout.js";
import type { UserInfo } from "./oidc/userinfo.js";
import type { FeedFollowers } from "./revocations/followers.js";
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
import type { ForgeryThrottle } from "./throttle/forgery.js";
import type { AccessTokens } from "./tokens/access.js";
import type { JwtDenylist } from "./tokens/denylist.js";
import type { RefreshTokens } from "./tokens/refresh.js";
import type { UserCredentials } from "./users/credentials.js";
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

/**
 * The domain, wired: stores, users, sessions and the login flows. No HTTP here — the
 * server (src/server) and the CLI (src/cli) both drive this object, through the services
 * it builds: they never touch `stores`, and each of their requests calls one method.
 */
export class Tessera {
  /**
   * The configuration in force: `issuer` is the installation's (see `resolveIssuer`), and
   * so is `accessTokenMaxTtl` for an admin command (see `resolveAccessTokenMaxTtl`).
   */
  readonly config: Config;
  readonly clock: Clock;
  readonly stores: Stores;
  readonly keys: SigningKeys;
  /** What opening did that the operator should read (logged by `serve`). */
  readonly notices: readonly Notice[];
  /** Where its data is (every command prints it), and whether opening created it. */
  readonly installation: InstallationInUse;
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

  /** Exposes the services composed over `opened` (src/compose/services.ts). */
  private constructor(opened: OpenedInstallation) {
    this.config = opened.config;
    this.clock = opened.clock;
    this.stores = opened.stores;
    this.keys = opened.keys;
    this.notices = opened.notices;
    this.installation = opened.installation;
    this.auditTrail = opened.auditTrail;
    const services = composeServices(opened, (e) => {
      for (const listener of this.backchannelListeners) listener(e);
    });
    this.caches = services.caches;
    this.secretTokens = services.secretTokens;
    this.hasher = services.hasher;
    this.users = services.users;
    this.sessions = services.sessions;
    this.passwordLogin = services.passwordLogin;
    this.clients = services.clients;
    this.denylist = services.denylist;
    this.revocationStreams = services.revocationStreams;
    this.codes = services.codes;
    this.accessTokens = services.accessTokens;
    this.refreshTokens = services.refreshTokens;
    this.clientLifecycle = services.clientLifecycle;
    this.backchannel = services.backchannel;
    this.oidcLogout = services.oidcLogout;
    this.endSessionEndpoint = services.endSessionEndpoint;
    this.credentials = services.credentials;
    this.forgeries = services.forgeries;
    this.feedFollowers = services.feedFollowers;
    this.userConsents = services.userConsents;
    this.audit = services.audit;
    this.authorization = services.authorization;
    this.oauth = services.oauth;
    this.userInfo = services.userInfo;
    this.reloadTimer = reloadKeysEvery(this.keys, this.config.keysReloadInterval);
  }

  /** What ID tokens can be signed with now: the access-token key's algorithm and its companions'. */
  idTokenAlgs(): SigningAlg[] {
    return this.keys.signingAlgs();
  }

  /** The consent store itself (tests). Rules: `userConsents`, `authorization`, the grants. */
  get consents(): ConsentStore {
    return this.stores.durable.consents;
  }

  /**
   * Opens the stores and the installation (src/compose/open.ts), composes the services
   * over them and starts what runs until `close` (src/compose/running.ts).
   */
  static async open(options: TesseraOptions = {}): Promise<Tessera> {
    const opened = await openInstallation(options);
    return closingStoresOnFailure(opened, async () => {
      const tessera = new Tessera(opened);
      await startRunning(opened.stores, tessera.caches.evictions, opened.serve);
      return tessera;
    });
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

  /**
   * Stops what runs (key reloads, cache evictions, feed streams), lets pending logout
   * tokens go out, closes the stores (src/compose/running.ts).
   */
  close(): Promise<void> {
    return stopRunning({
      reloadTimer: this.reloadTimer,
      evictions: this.caches.evictions,
      revocationStreams: this.revocationStreams,
      backchannel: this.backchannel,
      stores: this.stores,
    });
  }
}
