import type { FastifyInstance } from "fastify";
import { SUPPORTED_GRANTS } from "../../clients/clients.js";
import { SIGNING_ALGS } from "../../keys/keys.js";
import { RESPONSE_MODES } from "../../oidc/request.js";
import type { Tessera } from "../../tessera.js";

/** RFC 8414 metadata: what this server actually supports, and nothing else. */
export function metadata(issuer: string) {
  return {
    issuer,
    authorization_endpoint: `${issuer}/oauth/authorize`,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    introspection_endpoint: `${issuer}/oauth/introspect`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    response_types_supported: ["code"],
    response_modes_supported: [...RESPONSE_MODES],
    grant_types_supported: [...SUPPORTED_GRANTS],
    code_challenge_methods_supported: ["S256"],
    // "none": public clients (PKCE) at the token and revocation endpoints.
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "none"],
    introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: [
      "client_secret_basic",
      "client_secret_post",
      "none",
    ],
    // RFC 9207: the authorization response carries `iss`.
    authorization_response_iss_parameter_supported: true,
    // Algorithms access tokens are signed with (RFC 9068 verifiers read this).
    access_token_signing_alg_values_supported: [...SIGNING_ALGS],
  };
}

/** GET /.well-known/jwks.json and /.well-known/oauth-authorization-server. */
export function wellKnownRoutes(app: FastifyInstance, tessera: Tessera): void {
  const cache = `public, max-age=${tessera.config.jwksMaxAge}`;
  const doc = metadata(tessera.config.issuer);
  app.get("/.well-known/jwks.json", async (_request, reply) => {
    reply.header("cache-control", cache).removeHeader("pragma");
    reply.type("application/jwk-set+json; charset=utf-8");
    return tessera.keys.jwks();
  });
  app.get("/.well-known/oauth-authorization-server", async (_request, reply) => {
    reply.header("cache-control", cache).removeHeader("pragma");
    return doc;
  });
}
