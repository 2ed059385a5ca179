import { type AuditRecorder, AuditTrail } from "../audit/recorder.js";
import { type Clock, systemClock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import { loadConfig } from "../config/load.js";
import { type Notice, resolveIssuer } from "../installation/issuer.js";
import { resolveKeyActivationDelay } from "../installation/key-timing.js";
import { ACCESS_TOKEN_MAX_TTL_LIMIT, resolveAccessTokenMaxTtl } from "../installation/lifetime.js";
import { assertStoreExists, type DataLocation, locateData } from "../installation/location.js";
import { ensureInstallation } from "../installation/record.js";
import { postgresOptions } from "../installation/schema.js";
import { KeyEncryptionKey } from "../keys/kek.js";
import { SigningKeys } from "../keys/keys.js";
import { keyNotice } from "../keys/notice.js";
import { eventRetentionMs } from "../revocations/retention.js";
import { openStores, type Stores } from "../store/open.js";
import type { SigningAlg } from "../store/types.js";
import type { InstallationInUse, TesseraOptions } from "../tessera.js";

/** What `Tessera.open` settles before it composes the services (see `openInstallation`). */
export interface OpenedInstallation extends ResolvedInstallation {
  clock: Clock;
  stores: Stores;
  /** True when `Tessera.open` opened the stores itself (so it closes them on a failure). */
  ownsStores: boolean;
  /** Where its data is, and whether opening created it. */
  installation: InstallationInUse;
  /** The audit trail's writer: `system` for a server, `cli` for an admin command. */
  auditTrail: AuditTrail;
  /** A server (`serve`, the default role), not an admin command. */
  serve: boolean;
}

/**
 * `Tessera.open`'s opening: the stores (unless `options` gives them), the installation
 * record (made when `serve` or `create` allows it), the audit trail and what the
 * installation's records settle (`resolveInstallation`). Stores opened here are closed
 * again when a later step fails.
 */
export async function openInstallation(options: TesseraOptions): Promise<OpenedInstallation> {
  const config = options.config ?? loadConfig();
  const clock = options.clock ?? systemClock;
  const serve = (options.role ?? "serve") === "serve";
  const create = serve || options.create === true;
  const location = locateData(config);
  const ownsStores = options.stores === undefined;
  // Opening a SQLite store creates its file: look before opening.
  if (ownsStores && !create) assertStoreExists(location);
  const stores =
    options.stores ?? (await openConfiguredStores(config, clock, serve, options.onWarning));
  return closingStoresOnFailure({ stores, ownsStores }, async () => {
    const created = await ensureInstallation(stores.durable.installation, location, {
      create,
      now: clock.now(),
    });
    // What a command does is the operator's (`cli`); what a server does by itself, the system's.
    const auditTrail = new AuditTrail(stores.durable.audit, clock, serve ? "system" : "cli");
    const resolved = await resolveInstallation(stores, config, clock, location, serve, auditTrail);
    const installation = { location, created };
    return { ...resolved, clock, stores, ownsStores, installation, auditTrail, serve };
  });
}

/** `step`'s result; when it throws, the stores are closed first if opening opened them. */
export async function closingStoresOnFailure<T>(
  opened: Pick<OpenedInstallation, "stores" | "ownsStores">,
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (opened.ownsStores) await opened.stores.close();
    throw err;
  }
}

/** `Tessera.open`'s first step: the stores the configuration names. */
export function openConfiguredStores(
  config: Config,
  clock: Clock,
  serve: boolean,
  onWarning: ((message: string) => void) | undefined,
): Promise<Stores> {
  return openStores({
    db: config.db,
    redis: config.redis,
    redisPrefix: config.redisPrefix,
    clock,
    sweepIntervalMs: config.sweepInterval * 1000,
    auditRetentionMs: config.auditRetention * 1000,
    postgres: postgresOptions(config),
    redisAllowEviction: config.redisAllowEviction,
    // An admin command does not know yet how long the servers' tokens live (recorded
    // with the data): what it appends is kept until the event's own `exp`, and an append
    // never trims what a server still needs.
    eventRetentionMs: eventRetentionMs(
      serve ? config.accessTokenMaxTtl : ACCESS_TOKEN_MAX_TTL_LIMIT,
    ),
    ...(onWarning === undefined ? {} : { onWarning }),
  });
}

/** What the installation's records settle, and its keys (see `resolveInstallation`). */
export interface ResolvedInstallation {
  /** The configuration in force: the installation's `issuer` and `accessTokenMaxTtl`. */
  config: Config;
  keys: SigningKeys;
  kek: KeyEncryptionKey;
  /** What opening did that the operator should read (logged by `serve`). */
  notices: Notice[];
}

/**
 * `Tessera.open`'s second step, once the installation exists: its issuer, longest access
 * token and key activation delay (recorded with the data; see src/installation), the key
 * encryption key, and the signing keys — for `serve`, made ready to sign the configured
 * algorithm (`SigningKeys.prepare`); for an admin command, only loaded.
 */
export async function resolveInstallation(
  stores: Stores,
  config: Config,
  clock: Clock,
  location: DataLocation,
  serve: boolean,
  audit: AuditRecorder,
): Promise<ResolvedInstallation> {
  const { issuer, notices } = await resolveIssuer(stores.durable.installation, config, serve);
  const accessTokenMaxTtl = await resolveAccessTokenMaxTtl(
    stores.durable.installation,
    config,
    serve,
  );
  const keyActivationDelay = await resolveKeyActivationDelay(
    stores.durable.installation,
    config,
    serve,
  );
  const kek = KeyEncryptionKey.load({
    secret: config.secret,
    dataDir: location.secretFile === undefined ? undefined : location.dataDir,
  });
  const keys = new SigningKeys(
    stores.durable.keys,
    kek,
    clock,
    {
      alg: config.signingAlg as SigningAlg,
      activationDelayMs: keyActivationDelay * 1000,
      maxTokenTtlMs: accessTokenMaxTtl * 1000,
      toleranceMs: 60_000,
      idTokenCompanion: true,
    },
    audit,
  );
  if (serve) {
    const prepared = await keys.prepare(config.sources.signingAlg !== undefined);
    const notice = keyNotice(prepared);
    if (notice !== undefined) notices.push(notice);
  } else {
    await keys.reload();
  }
  return { config: { ...config, issuer, accessTokenMaxTtl }, keys, kek, notices };
}
