import type { AuditRecorder } from "../audit/recorder.js";
import { Clients } from "../clients/clients.js";
import { ClientLifecycle } from "../clients/lifecycle.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { SigningKeys } from "../keys/keys.js";
import type { Revocations } from "../revocations/log.js";
import type { Stores } from "../store/open.js";
import type { CacheServices } from "./caches.js";
import type { TokenServices } from "./tokens.js";

/**
 * The registered clients: written through the caches (every change evicts), secrets in
 * the installation's `format`, access-token lifetimes bounded by the one in force.
 */
export function composeClients(
  config: Config,
  clock: Clock,
  keys: SigningKeys,
  format: SecretTokens,
  audit: AuditRecorder,
  caches: CacheServices,
): Clients {
  return new Clients(
    caches.clientWrites,
    clock,
    { maxAccessTtl: config.accessTokenMaxTtl },
    format,
    () => keys.signingAlgs(),
    audit,
    caches.clients,
  );
}

/** Removing or changing a client ends or narrows what it was given (src/clients/lifecycle.ts). */
export function composeClientLifecycle(
  clock: Clock,
  stores: Stores,
  clients: Clients,
  tokens: TokenServices,
  revocations: Revocations,
  audit: AuditRecorder,
): ClientLifecycle {
  return new ClientLifecycle({
    clients,
    refresh: tokens.refreshTokens,
    access: tokens.accessTokens,
    consents: stores.durable.consents,
    revocations,
    clock,
    audit,
  });
}
