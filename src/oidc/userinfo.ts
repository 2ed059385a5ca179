import { TesseraError } from "../errors.js";
import type { ActiveResponse } from "../oauth/introspect.js";
import type { UserStore } from "../store/types.js";
import { userClaims } from "./claims.js";

export interface UserInfoDeps {
  /** A live access token's claims, or undefined (src/oauth/introspect.ts). */
  activeAccessToken(token: string): Promise<ActiveResponse | undefined>;
  users: Pick<UserStore, "findUserById">;
}

/** The longest value taken for a token (every Tessera token is far shorter). */
const MAX_TOKEN_LENGTH = 8192;

/** RFC 6750 §3.1: the error goes in `WWW-Authenticate` too. */
function bearerError(code: "invalid_token" | "insufficient_scope", message: string) {
  return new TesseraError(code, message, { oauthError: code });
}

/**
 * OpenID Connect's UserInfo endpoint (Core §5.3): the claims the access token's scope
 * releases about its user. The token must be live (as introspection judges it: signature,
 * expiry, denylist, client and user cutoffs) and carry `openid`; a client's own token
 * (client_credentials) names no user.
 */
export class UserInfo {
  constructor(private readonly deps: UserInfoDeps) {}

  async claims(token: string): Promise<Record<string, unknown>> {
    const found =
      token.length > MAX_TOKEN_LENGTH ? undefined : await this.deps.activeAccessToken(token);
    if (found === undefined) throw bearerError("invalid_token", "The access token is not active.");
    const scope = found.scope?.split(" ") ?? [];
    if (!scope.includes("openid")) {
      throw bearerError("insufficient_scope", "The access token was not granted openid.");
    }
    const user = await this.deps.users.findUserById(found.sub);
    if (user === undefined) throw bearerError("invalid_token", "The access token is not active.");
    return userClaims(user, scope);
  }
}
