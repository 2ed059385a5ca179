/** The SQLite backend: one file in WAL mode, durable and (without Redis) ephemeral too. */
export { MIGRATIONS } from "./migrations.js";
export { type SqliteOptions, SqliteStore } from "./store.js";
