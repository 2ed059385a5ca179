/** The PostgreSQL backend: durable and (without Redis) ephemeral, for several instances. */
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POOL_SIZE,
  DEFAULT_STATEMENT_TIMEOUT_MS,
} from "./db.js";
export { MIGRATIONS, SCHEMA_VERSION } from "./migrations.js";
export { PostgresStore, type PostgresStoreOptions } from "./store.js";
