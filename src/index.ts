/** The `tessera` package: the server and its domain, for embedding and tests. */

export { type Clock, ManualClock, systemClock } from "./clock.js";
export { type Config, SETTINGS } from "./config/defaults.js";
export { loadConfig } from "./config/load.js";
export { ERROR_STATUS, type ErrorCode, isTesseraError, TesseraError } from "./errors.js";
export { type BuildServerOptions, buildServer } from "./server/app.js";
export { SESSION_COOKIE } from "./sessions/cookie.js";
export type { SessionView } from "./sessions/sessions.js";
export type * from "./store/counters-types.js";
export { MemoryStore } from "./store/memory/index.js";
export { openStores, type Stores } from "./store/open.js";
export { SqliteStore } from "./store/sqlite/index.js";
export type * from "./store/types.js";
export { Tessera, type TesseraOptions } from "./tessera.js";
export type { PublicUser } from "./users/users.js";
