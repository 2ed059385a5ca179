import type { FastifyInstance } from "fastify";
import { SUPPORTED_GRANTS } from "../../clients/clients.js";
import { SIGNING_ALGS } from "../../keys/keys.js";
import type { Tessera } from "../../tessera.js";

/** RFC 8414 metadata: what this server actually supports, and nothing else. */
export function metadata(issuer: string) {
  return {
    issuer,
    token_endpoint: `${issuer}/oauth/token`,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    revocation_endpoint: `${issuer}/oauth/revoke`,
    // No authorization endpoint yet: no response type is supported.
    response_types_supported: [],
    grant_types_supported: [...SUPPORTED_GRANTS],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
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
