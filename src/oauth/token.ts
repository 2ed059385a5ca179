import type { Clients } from "../clients/clients.js";
import { parseScope } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import type { SigningKeys } from "../keys/keys.js";
import type { ClientRecord } from "../store/types.js";
import { issueAccessToken } from "../tokens/jwt/issue.js";
import { authenticateClient, type FormParams } from "./client-auth.js";

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope?: string;
}

export interface TokenEndpointDeps {
  clients: Clients;
  keys: SigningKeys;
  clock: Clock;
  issuer: string;
  defaultAccessTtl: number;
  maxAccessTtl: number;
}

function oauth(
  code: "invalid_request" | "invalid_scope" | "unauthorized_client" | "unsupported_grant_type",
  message: string,
) {
  return new TesseraError(code, message, { oauthError: code });
}

/** The scope granted: the requested one if it is a subset of the client's, else all of it. */
export function grantScope(client: ClientRecord, requested: string | undefined): string[] {
  if (requested === undefined) return [...client.scopes];
  const scope = parseScope(requested);
  for (const s of scope) {
    if (!client.scopes.includes(s))
      throw oauth("invalid_scope", "The requested scope exceeds the client's.");
  }
  return scope;
}

/** POST /oauth/token, as a sequence of small steps (cf. node-oidc-provider). */
export async function tokenEndpoint(
  deps: TokenEndpointDeps,
  authorization: string | undefined,
  params: FormParams,
): Promise<TokenResponse> {
  const grantType = params.grant_type;
  if (grantType === undefined) throw oauth("invalid_request", "Missing grant_type.");
  const client = await authenticateClient(deps.clients, authorization, params);
  switch (grantType) {
    case "client_credentials":
      return clientCredentials(deps, client, params);
    default:
      throw oauth("unsupported_grant_type", "Unsupported grant_type.");
  }
}

function clientCredentials(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  params: FormParams,
): TokenResponse {
  if (!client.grants.includes("client_credentials")) {
    throw oauth("unauthorized_client", "This client may not use client_credentials.");
  }
  const scope = grantScope(client, params.scope);
  const ttl = Math.min(client.accessTtl ?? deps.defaultAccessTtl, deps.maxAccessTtl);
  const { token } = issueAccessToken(deps.keys, deps.clock, {
    issuer: deps.issuer,
    sub: client.id,
    clientId: client.id,
    audience: client.audience,
    scope,
    ttlSeconds: ttl,
  });
  const response: TokenResponse = { access_token: token, token_type: "Bearer", expires_in: ttl };
  if (scope.length > 0) response.scope = scope.join(" ");
  return response;
}
