import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../../errors.js";
import { openidConfiguration, USERINFO_PATH } from "../../oidc/discovery.js";
import type { Tessera } from "../../tessera.js";
import { toTesseraError } from "../errors.js";
import { metadata } from "./well-known.js";

/** The Bearer token of an `Authorization` header (RFC 6750 §2.1), or undefined. */
function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header ?? "");
  return m?.[1];
}

/**
 * RFC 6750 §3: a request without a token gets `WWW-Authenticate: Bearer` and no error
 * code; a bad token `error="invalid_token"`, a token without `openid`
 * `error="insufficient_scope"`. The body is `{"error": …}` as everywhere.
 */
function bearerErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toTesseraError(err);
  if (e.status >= 500) request.log.error({ err: e.cause ?? e, error: e.code }, "request failed");
  else request.log.info({ error: e.code, status: e.status }, "request refused");
  if (e.code === "unauthenticated") reply.header("www-authenticate", 'Bearer realm="tessera"');
  if (e.code === "invalid_token" || e.code === "insufficient_scope") {
    reply.header("www-authenticate", `Bearer realm="tessera", error="${e.code}"`);
  }
  if (e.retryAfter !== undefined) reply.header("retry-after", String(e.retryAfter));
  reply.code(e.status).send({ error: e.code, error_description: e.message });
}

/** GET /.well-known/openid-configuration, GET and POST /userinfo. */
export async function oidcRoutes(app: FastifyInstance, tessera: Tessera): Promise<void> {
  const issuer = tessera.config.issuer;
  const oauth = metadata(issuer);
  app.get("/.well-known/openid-configuration", async (_request, reply) => {
    reply.header("cache-control", `public, max-age=${tessera.config.jwksMaxAge}`);
    reply.removeHeader("pragma");
    return openidConfiguration(issuer, oauth, tessera.idTokenAlgs());
  });

  await app.register(async (scope) => {
    scope.setErrorHandler(bearerErrorHandler);
    const userinfo = async (request: FastifyRequest) => {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) {
        throw new TesseraError("unauthenticated", "Send the access token as a Bearer token.");
      }
      return tessera.userInfo.claims(token);
    };
    scope.get(USERINFO_PATH, userinfo);
    scope.post(USERINFO_PATH, userinfo);
  });
}
