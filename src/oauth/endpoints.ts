import type { AuditRecorder } from "../audit/recorder.js";
import type { Clients } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { SigningKeys } from "../keys/keys.js";
import type { IdTokenStep } from "../oidc/token-step.js";
import type { ConsentStore, UserStore } from "../store/types.js";
import type { ForgeryThrottle } from "../throttle/forgery.js";
import type { AccessTokens } from "../tokens/access.js";
import type { JwtDenylist } from "../tokens/denylist.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import type { FormParams } from "./client-auth.js";
import type { AuthorizationCodes } from "./codes.js";
import { TokenIdentifier } from "./identify.js";
import { type ActiveResponse, Introspection, type IntrospectionResponse } from "./introspect.js";
import { type RevocationDeps, revocationEndpoint } from "./revoke.js";
import { type TokenEndpointDeps, type TokenResult, tokenEndpoint } from "./token.js";

export interface OAuthEndpointsDeps {
  clients: Clients;
  users: UserStore;
  /**
   * Users by id for introspection (the in-process cache, src/cache/users.ts); default
   * `users`. The token endpoint reads `users`: its checks after a grant must see the store.
   */
  cachedUsers?: Pick<UserStore, "findUserById">;
  consents: ConsentStore;
  codes: AuthorizationCodes;
  access: AccessTokens;
  refresh: RefreshTokens;
  denylist: JwtDenylist;
  keys: SigningKeys;
  forgeries: ForgeryThrottle;
  secretTokens: SecretTokens;
  clock: Clock;
  issuer: string;
  /** OpenID Connect: ID tokens for the token endpoint. */
  idTokens?: IdTokenStep;
  /** The audit trail (tokens issued and revoked, refresh reuse). */
  audit?: AuditRecorder;
}

/**
 * The client-facing OAuth endpoints, wired once: token (RFC 6749 §3.2), introspection
 * (RFC 7662) and revocation (RFC 7009). Each takes the request's `Authorization` header
 * and its form parameters; the rules are in the modules named below.
 */
export class OAuthEndpoints {
  private readonly tokenDeps: TokenEndpointDeps;
  private readonly revokeDeps: RevocationDeps;
  private readonly introspection: Introspection;

  constructor(deps: OAuthEndpointsDeps) {
    this.tokenDeps = {
      clients: deps.clients,
      users: deps.users,
      consents: deps.consents,
      codes: deps.codes,
      access: deps.access,
      refresh: deps.refresh,
      clock: deps.clock,
      ...(deps.idTokens === undefined ? {} : { idTokens: deps.idTokens }),
      ...(deps.audit === undefined ? {} : { audit: deps.audit }),
    };
    const tokens = new TokenIdentifier(
      deps.access,
      deps.refresh,
      deps.keys,
      deps.issuer,
      deps.secretTokens,
    );
    this.revokeDeps = {
      clients: deps.clients,
      tokens,
      denylist: deps.denylist,
      access: deps.access,
      refresh: deps.refresh,
      ...(deps.audit === undefined ? {} : { audit: deps.audit }),
    };
    this.introspection = new Introspection({
      clients: deps.clients,
      tokens,
      refresh: deps.refresh,
      denylist: deps.denylist,
      clock: deps.clock,
      issuer: deps.issuer,
      users: deps.cachedUsers ?? deps.users,
      forgeries: deps.forgeries,
    });
  }

  /** POST /oauth/token (src/oauth/token.ts). */
  token(authorization: string | undefined, params: FormParams): Promise<TokenResult> {
    return tokenEndpoint(this.tokenDeps, authorization, params);
  }

  /** POST /oauth/introspect (src/oauth/introspect.ts). */
  introspect(
    authorization: string | undefined,
    params: FormParams,
  ): Promise<IntrospectionResponse> {
    return this.introspection.handle(authorization, params);
  }

  /** A live access token's claims, for OpenID Connect's userinfo (src/oidc/userinfo.ts). */
  activeAccessToken(token: string): Promise<ActiveResponse | undefined> {
    return this.introspection.activeAccessToken(token);
  }

  /** POST /oauth/revoke (src/oauth/revoke.ts). */
  revoke(authorization: string | undefined, params: FormParams): Promise<void> {
    return revocationEndpoint(this.revokeDeps, authorization, params);
  }
}
