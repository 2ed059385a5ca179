import type { SettingSpec } from "./spec.js";
import { DAY, HOUR, MINUTE } from "./units.js";

/** Sessions: their timeouts, how often they are touched, the in-process caches, "remember me". */
export const SESSION_SETTINGS = {
  sessionIdleTimeout: {
    type: "int",
    default: 30 * MINUTE,
    min: MINUTE,
    max: 30 * DAY,
    doc: "Seconds of inactivity after which a session ends.",
  },
  sessionAbsoluteTimeout: {
    type: "int",
    default: 12 * HOUR,
    min: 5 * MINUTE,
    max: 400 * DAY,
    doc: "Seconds after login at which a session ends, active or not.",
  },
  sessionTouchInterval: {
    type: "int",
    default: MINUTE,
    min: 0,
    max: HOUR,
    doc: "A session's last-seen time is written at most this often (seconds), so a request costs no write.",
  },
  cacheTtl: {
    type: "int",
    default: 30,
    min: 0,
    max: HOUR,
    doc: "Seconds a server keeps a session, a user, a client or an opaque access token read from the store in its in-process caches, at most (a backstop: every change evicts them at once here, and on other instances and workers through the revocation log). 0: no caches, every request reads the store.",
  },
  sessionRememberMe: {
    type: "bool",
    default: true,
    doc: 'Allow `"remember": true` at login: the cookie then gets Max-Age (the absolute timeout) and survives a browser restart.',
  },
} as const satisfies Record<string, SettingSpec>;
