/** The Redis backend: the ephemeral records shared by every instance (see ./store.ts for the layout). */
export { RedisStore, type RedisStoreOptions } from "./store.js";
