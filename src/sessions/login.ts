import { type AuditRecorder, NO_AUDIT, userActor } from "../audit/recorder.js";
import type { Clock } from "../clock.js";
import { sha256 } from "../crypto/random.js";
import { TesseraError } from "../errors.js";
import type { Counters } from "../store/counters-types.js";
import type { UserRecord } from "../store/types.js";
import { LimitChain, type Release } from "../throttle/limit-chain.js";
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

/** The two login limits, counted together: the client's address first, then the account. */
type LoginLimit = "address" | "account";

/** A success takes its attempt back from the address and clears the account's failures. */
const SUCCEEDED: Release<LoginLimit> = { address: "undo", account: "reset" };
/** An attempt not verified at all (queue full, store down) does not count. */
const NOT_VERIFIED: Release<LoginLimit> = { address: "undo", account: "undo" };

/**
 * Password verification with throttling, the one way into an account.
 *
 * - Unknown user, disabled user and wrong password take the same path: one argon2id
 *   verify (against a dummy hash when there is no user) and the same error.
 * - Per-account and per-IP attempts are counted *before* verifying, so parallel guesses
 *   cannot overshoot either limit; a success clears the account's count and takes its
 *   IP attempt back. Both live in the store, so they hold across instances; both are
 *   counted in one store call, and settled in one (`LimitChain`).
 * - A throttled attempt is answered at once, without hashing: its 429 is the same for
 *   real and unknown accounts, so it needs no disguise, and a flood of throttled attempts
 *   must not wait in the argon2id queue ahead of other addresses' logins.
 * - Hashing waits in a queue shared fairly between client IPs and bounded per IP and in
 *   all; an attempt that finds it full gets 503 `server_busy` and is not counted.
 */
export class PasswordLogin {
  private readonly limits: LimitChain<LoginLimit>;

  constructor(
    private readonly users: Users,
    private readonly hasher: PasswordHasher,
    counters: Counters,
    clock: Clock,
    limits: LoginLimits,
    /** The audit trail: every check's outcome (a reason class, never the password). */
    private readonly audit: AuditRecorder = NO_AUDIT,
  ) {
    const windowMs = limits.windowMs;
    this.limits = new LimitChain<LoginLimit>(counters, clock, [
      { name: "address", prefix: "login:ip:", limit: limits.ipLimit, windowMs },
      { name: "account", prefix: "login:acct:", limit: limits.accountLimit, windowMs },
    ]);
  }

  /** Returns the user, or throws `invalid_credentials` / `rate_limited`. */
  async verify(input: Credentials): Promise<UserRecord> {
    const { key } = normaliseUsername(input.username);
    const password = normalisePassword(input.password);
    const keys = { address: input.ip, account: sha256(key) };

    // Both limits count the attempt before the (slow) verify, atomically in the store,
    // so parallel attempts cannot overshoot either; an attempt over the address's limit
    // is not counted against the account. A success takes its address attempt back and
    // clears the account's count, so only failures accumulate. One store call each.
    const state = await this.limits.hit(keys);
    if (state.limitedBy !== undefined) {
      const { retryAfter } = state;
      // Once per address or account and window (the attempt that went over first): a
      // flood of throttled attempts must not become a flood of audit rows.
      if (state.first) {
        await this.audit.record({
          type: "login_throttled",
          userId: state.limitedBy === "address" ? undefined : (await this.users.findByKey(key))?.id,
          source: input.ip,
          reason: state.limitedBy,
          details: { retryAfter },
        });
      }
      throw new TesseraError("rate_limited", "Too many login attempts; retry later.", {
        retryAfter,
      });
    }

    let user: UserRecord | undefined;
    let ok = false;
    try {
      user = await this.users.findByKey(key);
      if (user === undefined) {
        await this.hasher.verifyDummy(password, input.ip);
      } else {
        ok = (await this.hasher.verify(user.passwordHash, password, input.ip)) && !user.disabled;
      }
    } catch (err) {
      await this.limits.release(keys, NOT_VERIFIED);
      throw err;
    }
    if (!ok || user === undefined) {
      // The class of failure for the operator; the answer stays the same for all three.
      // An unknown name is not recorded: it is often a password typed in the wrong field.
      await this.audit.record({
        type: "login_failed",
        userId: user?.id,
        source: input.ip,
        reason: user === undefined ? "unknown_user" : user.disabled ? "disabled" : "bad_password",
      });
      throw new TesseraError("invalid_credentials");
    }
    await this.limits.release(keys, SUCCEEDED);
    await this.users.rehashIfNeeded(user, password, input.ip);
    await this.audit.record({
      type: "login_succeeded",
      actor: userActor(user.id),
      userId: user.id,
      source: input.ip,
    });
    return user;
  }
}
