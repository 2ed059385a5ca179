import type { AuditRecorder } from "../audit/recorder.js";
import type { Clients } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import type { Config } from "../config/defaults.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { SigningKeys } from "../keys/keys.js";
import { AuthorizationEndpoint } from "../oauth/authorize.js";
import { Consents } from "../oauth/consents.js";
import { OAuthEndpoints } from "../oauth/endpoints.js";
import { Nonces } from "../oidc/nonces.js";
import type { IdTokenStep } from "../oidc/token-step.js";
import { UserInfo } from "../oidc/userinfo.js";
import { FeedFollowers } from "../revocations/followers.js";
import type { Stores } from "../store/open.js";
import type { UserStore } from "../store/types.js";
import { ForgeryThrottle } from "../throttle/forgery.js";
import type { TokenServices } from "./tokens.js";

/** The endpoints' services, wired (see `composeOAuth`). */
export interface OAuthServices {
  /** Introspection's fishing defence: forged tokens per client, tarpit, 429. */
  forgeries: ForgeryThrottle;
  /** Who may follow the revocation feed, and for how long. */
  feedFollowers: FeedFollowers;
  /** A user's remembered consents: list, withdraw (which cuts the client off). */
  userConsents: Consents;
  /** GET /oauth/authorize and its consent decision (src/oauth/authorize.ts). */
  authorization: AuthorizationEndpoint;
  /** The token, introspection and revocation endpoints (src/oauth/endpoints.ts). */
  oauth: OAuthEndpoints;
  /** OpenID Connect's UserInfo endpoint (src/oidc/userinfo.ts). */
  userInfo: UserInfo;
}

/** The services the endpoints are built over. */
export interface OAuthParts {
  clients: Clients;
  /** Users by id for introspection (the in-process cache, src/cache/users.ts). */
  cachedUsers: Pick<UserStore, "findUserById">;
  tokens: TokenServices;
  /** The token endpoint's ID-token step (src/compose/oidc.ts). */
  idTokens: IdTokenStep;
  secretTokens: SecretTokens;
}

/**
 * Builds introspection's fishing defence (its limits from `config`), the authorization,
 * token, introspection, revocation and UserInfo endpoints, the feed's followers and the
 * users' consents, each raising its security events on `audit`. `config` is the one in
 * force (the installation's issuer).
 */
export function composeOAuth(
  config: Config,
  clock: Clock,
  stores: Stores,
  keys: SigningKeys,
  audit: AuditRecorder,
  parts: OAuthParts,
): OAuthServices {
  const { clients, tokens, secretTokens } = parts;
  const forgeries = new ForgeryThrottle(
    clock,
    {
      limit: config.introspectionForgedLimit,
      windowMs: 60_000,
      tarpitMs: config.introspectionTarpitMs,
      maxPendingPerClient: config.introspectionTarpitPerClient,
      maxPending: config.introspectionTarpitTotal,
    },
    audit,
  );
  const authorization = new AuthorizationEndpoint({
    clients,
    consents: stores.durable.consents,
    codes: tokens.codes,
    interactions: stores.ephemeral.collection("interaction"),
    nonces: new Nonces(stores.ephemeral),
    secretTokens,
    clock,
    issuer: config.issuer,
    audit,
  });
  const oauth = new OAuthEndpoints({
    clients,
    users: stores.durable.users,
    cachedUsers: parts.cachedUsers,
    consents: stores.durable.consents,
    codes: tokens.codes,
    access: tokens.accessTokens,
    refresh: tokens.refreshTokens,
    denylist: tokens.denylist,
    keys,
    forgeries,
    secretTokens,
    clock,
    issuer: config.issuer,
    idTokens: parts.idTokens,
    audit,
  });
  const userInfo = new UserInfo({
    activeAccessToken: (token) => oauth.activeAccessToken(token),
    users: stores.durable.users,
  });
  return {
    forgeries,
    feedFollowers: new FeedFollowers(clients),
    userConsents: new Consents(stores.durable.consents, tokens.refreshTokens, audit),
    authorization,
    oauth,
    userInfo,
  };
}
