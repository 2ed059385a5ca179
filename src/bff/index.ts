/**
 * `tessera/bff`: the Backend-for-Frontend for single-page apps, as a Fastify plugin.
 * The browser never holds a token: the BFF runs the authorization-code flow (PKCE) against
 * Tessera as a confidential client, keeps the tokens in a server-side store, gives the
 * browser one small `__Host-bff` cookie and proxies `/bff/api/NAME/*` to named upstreams.
 *
 * ```ts
 * const app = Fastify();
 * await app.register(tesseraBff, {
 *   issuer: "https://auth.example", clientId: "spa", clientSecret: process.env.SECRET,
 *   publicUrl: "https://app.example", upstreams: { orders: "https://orders.internal/" },
 *   db: "sqlite:./bff.db",
 * });
 * ```
 */
import type { FastifyInstance } from "fastify";
import { openStores, type Stores } from "../store/open.js";
import type { EphemeralStore } from "../store/types.js";
import { Bff, type BffHooks } from "./bff.js";
import { bffDemoRoutes } from "./demo.js";
import type { BffOptions } from "./options.js";
import { bffRoutes } from "./plugin.js";

export { Bff, type BffHooks, type BffUser } from "./bff.js";
export { type BffDemoOptions, bffDemoRoutes } from "./demo.js";
export {
  BFF_LIMITS,
  type BffLimits,
  type BffOptions,
  bffOptionsTable,
  parseUpstream,
  type ResolvedBffOptions,
  resolveBffOptions,
} from "./options.js";
export { BFF_COOKIE, BFF_LOGIN_COOKIE, bffRoutes, CSRF_HEADER } from "./plugin.js";

export interface BffPluginOptions extends BffOptions, BffHooks {
  /** An open store to keep sessions in (shared by instances); else one opened from `db`/`redis`. */
  store?: EphemeralStore;
  /** `sqlite:PATH`, `postgres://…` or `memory:` (default; one process only). */
  db?: string;
  /** `redis://…`: sessions in Redis (several instances). */
  redis?: string;
  /** Also serve the demo SPA at `/` (calling the first upstream). */
  demo?: boolean;
}

/** The BFF as a Fastify plugin: its routes under /bff, its store and feed closed with the app. */
export async function tesseraBff(app: FastifyInstance, options: BffPluginOptions): Promise<void> {
  let stores: Stores | undefined;
  let store = options.store;
  if (store === undefined) {
    const { systemClock } = await import("../clock.js");
    stores = await openStores({
      db: options.db ?? "memory:",
      redis: options.redis,
      clock: options.clock ?? systemClock,
    });
    store = stores.ephemeral;
  }
  const hooks: BffHooks = options.onError === undefined ? {} : { onError: options.onError };
  let bff: Bff;
  try {
    bff = new Bff(options, store, hooks);
  } catch (err) {
    await stores?.close();
    throw err;
  }
  app.addHook("onClose", async () => {
    bff.close();
    await stores?.close();
  });
  await bffRoutes(app, bff);
  const first = [...bff.options.upstreams.keys()][0];
  if (options.demo === true && first !== undefined) await bffDemoRoutes(app, first);
}
