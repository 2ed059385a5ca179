import type { Clock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { KeyEncryptionKey } from "../keys/kek.js";
import type { SigningKeys } from "../keys/keys.js";
import { AuthorizationCodes } from "../oauth/codes.js";
import { Revocations } from "../revocations/log.js";
import { RevocationRecovery } from "../revocations/recovery.js";
import { RevocationStreams } from "../revocations/streams.js";
import type { Stores } from "../store/open.js";
import { AccessTokens, type OpaqueRecords } from "../tokens/access.js";
import { JwtDenylist } from "../tokens/denylist.js";
import { RefreshTokens } from "../tokens/refresh.js";

/** The token services and the revocation log they write to, wired (see `composeTokens`). */
export interface TokenServices {
  denylist: JwtDenylist;
  /** The revocation feed's streams: bounds, shared snapshots, live events. */
  revocationStreams: RevocationStreams;
  codes: AuthorizationCodes;
  accessTokens: AccessTokens;
  refreshTokens: RefreshTokens;
}

/** The only writer of the revocation log over the stores (src/revocations/log.ts). */
export function composeRevocations(config: Config, clock: Clock, stores: Stores): Revocations {
  return new Revocations(stores.ephemeral.revocations, clock, {
    issuer: config.issuer,
    maxAccessTtl: config.accessTokenMaxTtl,
    kept: stores.durable.keptRevocations,
  });
}

/**
 * Builds, over the revocation log's writer, the denylist, the feed's streams,
 * authorization codes and access/refresh tokens, and installs the refill of a Redis that
 * comes back empty. `config` is the one in force (the installation's issuer and max TTL).
 */
export function composeTokens(
  config: Config,
  clock: Clock,
  stores: Stores,
  keys: SigningKeys,
  kek: KeyEncryptionKey,
  format: SecretTokens,
  revocations: Revocations,
  /** The opaque access tokens' records, through the caches (src/compose/caches.ts). */
  opaqueRecords: OpaqueRecords,
): TokenServices {
  const denylist = new JwtDenylist(stores.ephemeral, clock, revocations);
  // A Redis that comes back empty is refilled from the kept revocations (docs/faults.md).
  const recovery = new RevocationRecovery(stores.durable.keptRevocations, denylist, clock);
  stores.ephemeral.loss?.setRestorer(async (append) => {
    await recovery.restore(append);
  });
  const revocationStreams = new RevocationStreams(stores.ephemeral.revocations, clock, {
    perClient: config.eventsStreamsPerClient,
    total: config.eventsStreamsTotal,
    heartbeatMs: config.eventsHeartbeat * 1000,
  });
  const codes = new AuthorizationCodes(stores.ephemeral, clock, format);
  const accessTokens = new AccessTokens(
    opaqueRecords,
    keys,
    clock,
    {
      issuer: config.issuer,
      defaultTtl: config.accessTokenTtl,
      maxTtl: config.accessTokenMaxTtl,
    },
    format,
    revocations,
  );
  const refreshTokens = new RefreshTokens(
    stores.durable.refresh,
    accessTokens,
    denylist,
    clock,
    kek.derive("refresh-successor"),
    {
      absoluteMs: config.refreshTokenTtl * 1000,
      idleMs: config.refreshTokenIdleTtl * 1000,
      graceMs: config.refreshGraceWindow * 1000,
      issuer: config.issuer,
    },
    format,
  );
  return { denylist, revocationStreams, codes, accessTokens, refreshTokens };
}
