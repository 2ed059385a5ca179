import { AuditQueries } from "../audit/query.js";
import type { Clients } from "../clients/clients.js";
import type { ClientLifecycle } from "../clients/lifecycle.js";
import { SecretTokens } from "../crypto/token-format.js";
import type { BackchannelSender } from "../oidc/backchannel.js";
import type { EndSession } from "../oidc/end-session.js";
import type { OidcLogout } from "../oidc/logout.js";
import type { UserCredentials } from "../users/credentials.js";
import { type CacheServices, composeCaches } from "./caches.js";
import { composeClientLifecycle, composeClients } from "./clients.js";
import { composeOAuth, type OAuthServices } from "./oauth.js";
import { composeOidc, type OidcLogoutEvent } from "./oidc.js";
import type { OpenedInstallation } from "./open.js";
import { composeRevocations, composeTokens, type TokenServices } from "./tokens.js";
import { composeCredentials, composeUsers, type UserServices } from "./users.js";

/** Every service of a Tessera, wired over one opened installation (see `composeServices`). */
export interface TesseraServices extends UserServices, TokenServices, OAuthServices {
  /** The in-process caches and their evictions (src/compose/caches.ts). */
  caches: CacheServices;
  /** The one format of every secret bearer token (tag keyed by the installation's secret). */
  secretTokens: SecretTokens;
  clients: Clients;
  clientLifecycle: ClientLifecycle;
  credentials: UserCredentials;
  backchannel: BackchannelSender;
  oidcLogout: OidcLogout;
  endSessionEndpoint: EndSession;
  /** Reads the audit trail (`tessera audit`). */
  audit: AuditQueries;
}

/**
 * Composes the services over the installation: the revocation log's writer (which only
 * the services below get), the caches (a server's; an admin command only announces its
 * changes), users and sessions, clients, tokens, OpenID Connect (back-channel logout
 * reported to `report`), what ends a user's or a client's credentials, and the endpoints.
 */
export function composeServices(
  opened: OpenedInstallation,
  report: (e: OidcLogoutEvent) => void,
): TesseraServices {
  const { config, clock, stores, keys, kek, auditTrail: audit } = opened;
  const revocations = composeRevocations(config, clock, stores);
  const caches = composeCaches(config, clock, stores, revocations, opened.serve);
  const secretTokens = new SecretTokens(kek.derive("token-tag-v1"));
  const people = composeUsers(config, clock, stores, secretTokens, audit, caches);
  const clients = composeClients(config, clock, keys, secretTokens, audit, caches);
  const tokens = composeTokens(
    config,
    clock,
    stores,
    keys,
    kek,
    secretTokens,
    revocations,
    caches.opaqueRecords,
  );
  const oidc = composeOidc(config, clock, stores, keys, clients, report);
  const endpoints = composeOAuth(config, clock, stores, keys, audit, {
    clients,
    cachedUsers: caches.userReads,
    tokens,
    idTokens: oidc.idTokenStep,
    secretTokens,
  });
  return {
    ...people,
    ...tokens,
    ...endpoints,
    caches,
    secretTokens,
    clients,
    clientLifecycle: composeClientLifecycle(clock, stores, clients, tokens, revocations, audit),
    credentials: composeCredentials(clock, people, tokens, revocations, oidc.oidcLogout, audit),
    backchannel: oidc.backchannel,
    oidcLogout: oidc.oidcLogout,
    endSessionEndpoint: oidc.endSessionEndpoint,
    audit: new AuditQueries(stores.durable.audit, people.users, clock),
  };
}
