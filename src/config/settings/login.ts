import type { SettingSpec } from "./spec.js";
import { DAY, MINUTE } from "./units.js";

/** Passwords and login: argon2id's cost, the hashing queue, login throttling. */
export const LOGIN_SETTINGS = {
  argon2MemoryCost: {
    type: "int",
    default: 19456,
    min: 19456,
    max: 4 * 1024 * 1024,
    doc: "argon2id memory cost in KiB (OWASP minimum 19456).",
  },
  argon2TimeCost: {
    type: "int",
    default: 2,
    min: 2,
    max: 100,
    doc: "argon2id iterations (OWASP minimum 2).",
  },
  argon2Parallelism: { type: "int", default: 1, min: 1, max: 16, doc: "argon2id lanes." },
  argon2Concurrency: {
    type: "int",
    default: 0,
    min: 0,
    max: 64,
    doc: "Password hashes computed at once by each process (more wait in line). 0: one less than the CPU count, shared out between the --workers (at least 1 each), so logins never starve the event loops.",
  },
  argon2QueuePerSource: {
    type: "int",
    default: 4,
    min: 1,
    max: 1000,
    doc: "Password hashes one client IP may have waiting; more are answered 503 `server_busy` at once. Waiting hashes take turns between IPs, so one address cannot delay the others.",
  },
  argon2QueueLimit: {
    type: "int",
    default: 64,
    min: 1,
    max: 100_000,
    doc: "Password hashes all clients together may have waiting; more are answered 503 `server_busy` (Retry-After: 1) at once.",
  },
  loginAccountLimit: {
    type: "int",
    default: 10,
    min: 1,
    max: 10_000,
    doc: "Failed logins per account within the window before it is throttled (any IP).",
  },
  loginIpLimit: {
    type: "int",
    default: 100,
    min: 1,
    max: 1_000_000,
    doc: "Failed logins per client IP within the window before it is throttled (any account).",
  },
  loginWindow: {
    type: "int",
    default: 15 * MINUTE,
    min: 1,
    max: DAY,
    doc: "Seconds of the login-throttling window.",
  },
} as const satisfies Record<string, SettingSpec>;
