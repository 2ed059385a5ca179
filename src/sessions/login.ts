import type { Clock } from "../clock.js";
import { sha256 } from "../crypto/random.js";
import { TesseraError } from "../errors.js";
import type { Counters, UserRecord } from "../store/types.js";
import { Limiter } from "../throttle/limiter.js";
import type { PasswordHasher } from "../users/passwords.js";
import { normalisePassword, normaliseUsername } from "../users/policy.js";
import type { Users } from "../users/users.js";

export interface LoginLimits {
  /** Failures per account per window, from any IP. */
  accountLimit: number;
  /** Failures per client IP per window, against any account. */
  ipLimit: number;
  windowMs: number;
}

export interface Credentials {
  username: string;
  password: string;
  /** Client IP as the server determined it (proxy-aware only with --trust-proxy). */
  ip: string;
}

/**
 * Password verification with throttling, the one way into an account.
 *
 * - Unknown user, disabled user and wrong password take the same path: one argon2id
 *   verify (against a dummy hash when there is no user) and the same error.
 * - Per-account and per-IP attempts are counted *before* verifying, so parallel guesses
 *   cannot overshoot either limit; a success clears the account's count and takes its
 *   IP attempt back. Both live in the store, so they hold across instances.
 * - A throttled attempt still costs one argon2id verify and never looks at the real
 *   hash: its answer (429) and its time say nothing about the password or the account.
 */
export class PasswordLogin {
  private readonly account: Limiter;
  private readonly ip: Limiter;

  constructor(
    private readonly users: Users,
    private readonly hasher: PasswordHasher,
    counters: Counters,
    clock: Clock,
    limits: LoginLimits,
  ) {
    const windowMs = limits.windowMs;
    this.account = new Limiter(counters, clock, "login:acct:", {
      limit: limits.accountLimit,
      windowMs,
    });
    this.ip = new Limiter(counters, clock, "login:ip:", { limit: limits.ipLimit, windowMs });
  }

  /** Returns the user, or throws `invalid_credentials` / `rate_limited`. */
  async verify(input: Credentials): Promise<UserRecord> {
    const { key } = normaliseUsername(input.username);
    const password = normalisePassword(input.password);
    const accountKey = sha256(key);

    // Both limits count the attempt before the (slow) verify, atomically in the store,
    // so parallel attempts cannot overshoot either; a success takes its IP attempt back
    // and clears the account's count, so only failures accumulate.
    const ipState = await this.ip.hit(input.ip);
    const acctState = ipState.limited ? ipState : await this.account.hit(accountKey);
    if (ipState.limited || acctState.limited) {
      await this.hasher.verifyDummy(password);
      throw new TesseraError("rate_limited", "Too many login attempts; retry later.", {
        retryAfter: Math.max(ipState.retryAfter, acctState.retryAfter),
      });
    }

    const user = await this.users.findByKey(key);
    let ok = false;
    if (user === undefined) {
      await this.hasher.verifyDummy(password);
    } else {
      ok = (await this.hasher.verify(user.passwordHash, password)) && !user.disabled;
    }
    if (!ok || user === undefined) throw new TesseraError("invalid_credentials");
    await this.ip.undo(input.ip);
    await this.account.reset(accountKey);
    await this.users.rehashIfNeeded(user, password);
    return user;
  }
}
