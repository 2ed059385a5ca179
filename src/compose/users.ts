import { availableParallelism } from "node:os";
import type { AuditRecorder } from "../audit/recorder.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { OidcLogout } from "../oidc/logout.js";
import type { Revocations } from "../revocations/log.js";
import { PasswordLogin } from "../sessions/login.js";
import { Sessions, servableFromCache } from "../sessions/sessions.js";
import type { Stores } from "../store/open.js";
import { UserCredentials } from "../users/credentials.js";
import { hashesPerProcess, PasswordHasher } from "../users/passwords.js";
import { Users } from "../users/users.js";
import type { CacheServices } from "./caches.js";
import type { TokenServices } from "./tokens.js";

/** The user services, wired (see `composeUsers`). */
export interface UserServices {
  hasher: PasswordHasher;
  users: Users;
  sessions: Sessions;
  passwordLogin: PasswordLogin;
}

/**
 * Builds the password hasher (its cost and queue bounds), users, sessions (their
 * lifetimes; tokens in the installation's `format`) and password login (its throttle),
 * each raising its security events on `audit`; users and sessions through `caches`.
 */
export function composeUsers(
  config: Config,
  clock: Clock,
  stores: Stores,
  format: SecretTokens,
  audit: AuditRecorder,
  caches: CacheServices,
): UserServices {
  const hasher = new PasswordHasher(
    {
      memoryCost: config.argon2MemoryCost,
      timeCost: config.argon2TimeCost,
      parallelism: config.argon2Parallelism,
    },
    {
      concurrency:
        config.argon2Concurrency > 0
          ? config.argon2Concurrency
          : hashesPerProcess(availableParallelism(), config.workers),
      maxWaitingPerSource: config.argon2QueuePerSource,
      maxWaiting: config.argon2QueueLimit,
    },
  );
  const users = new Users(caches.userWrites, hasher, clock, audit);
  const timeouts = {
    idleMs: config.sessionIdleTimeout * 1000,
    absoluteMs: config.sessionAbsoluteTimeout * 1000,
    touchIntervalMs: config.sessionTouchInterval * 1000,
  };
  const sessions = new Sessions(
    caches.sessionRecords((d) => servableFromCache(d, clock.now(), timeouts)),
    caches.userReads,
    clock,
    timeouts,
    format,
    audit,
  );
  const passwordLogin = new PasswordLogin(
    users,
    hasher,
    stores.ephemeral.counters,
    clock,
    {
      accountLimit: config.loginAccountLimit,
      ipLimit: config.loginIpLimit,
      windowMs: config.loginWindow * 1000,
    },
    audit,
  );
  return { hasher, users, sessions, passwordLogin };
}

/**
 * "Every credential of a user ends" (log out everywhere, password change or reset,
 * disable; src/users/credentials.ts) over the user services and tokens; the relying
 * parties of the ended sessions are told through `oidcLogout`.
 */
export function composeCredentials(
  clock: Clock,
  people: UserServices,
  tokens: TokenServices,
  revocations: Revocations,
  oidcLogout: OidcLogout,
  audit: AuditRecorder,
): UserCredentials {
  return new UserCredentials({
    afterRevokeAll: (userId) => oidcLogout.userEnded(userId),
    users: people.users,
    sessions: people.sessions,
    passwordLogin: people.passwordLogin,
    refresh: tokens.refreshTokens,
    access: tokens.accessTokens,
    revocations,
    clock,
    audit,
  });
}
