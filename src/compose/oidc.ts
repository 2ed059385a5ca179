import type { Clients } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import type { SigningKeys } from "../keys/keys.js";
import { type BackchannelEvent, BackchannelSender } from "../oidc/backchannel.js";
import { EndSession } from "../oidc/end-session.js";
import { IdTokens } from "../oidc/id-token.js";
import { OidcLogout } from "../oidc/logout.js";
import { RpSessions } from "../oidc/rp-sessions.js";
import { IdTokenStep } from "../oidc/token-step.js";
import type { Stores } from "../store/open.js";

/** What back-channel logout reports (src/oidc/backchannel.ts, src/oidc/logout.ts). */
export type OidcLogoutEvent = BackchannelEvent | { kind: "error"; err: unknown };

/** The OpenID Connect services, wired (see `composeOidc`). */
export interface OidcServices {
  backchannel: BackchannelSender;
  /** OpenID Connect Back-Channel Logout: who to tell when sessions end (src/oidc/logout.ts). */
  oidcLogout: OidcLogout;
  /** OpenID Connect RP-Initiated Logout's rules (src/oidc/end-session.ts). */
  endSessionEndpoint: EndSession;
  /** The token endpoint's ID-token step (src/oidc/token-step.ts). */
  idTokenStep: IdTokenStep;
}

/**
 * Builds the relying-party sessions and, over them, back-channel logout (its deliveries
 * and errors go to `report`), RP-initiated logout and the token endpoint's ID tokens.
 * `config` is the one in force (the installation's issuer and max TTL).
 */
export function composeOidc(
  config: Config,
  clock: Clock,
  stores: Stores,
  keys: SigningKeys,
  clients: Clients,
  report: (e: OidcLogoutEvent) => void,
): OidcServices {
  const rpSessions = new RpSessions(stores.ephemeral, config.sessionAbsoluteTimeout * 1000);
  const backchannel = new BackchannelSender(undefined, report);
  const oidcLogout = new OidcLogout({
    rpSessions,
    clients,
    keys,
    clock,
    issuer: config.issuer,
    sender: backchannel,
    onEvent: report,
  });
  const endSessionEndpoint = new EndSession({ clients, keys, issuer: config.issuer });
  const idTokenStep = new IdTokenStep(
    new IdTokens(keys, clock, {
      issuer: config.issuer,
      ttlSeconds: Math.min(config.idTokenTtl, config.accessTokenMaxTtl),
    }),
    rpSessions,
  );
  return { backchannel, oidcLogout, endSessionEndpoint, idTokenStep };
}
