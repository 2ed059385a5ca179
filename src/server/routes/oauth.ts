import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../../errors.js";
import type { FormParams } from "../../oauth/client-auth.js";
import type { Tessera } from "../../tessera.js";
import { toTesseraError } from "../errors.js";
import { eventRoutes } from "./events.js";

/** OAuth error values a TesseraError code maps to when it has none of its own. */
function oauthErrorOf(e: TesseraError): string {
  if (e.oauthError !== undefined) return e.oauthError;
  switch (e.code) {
    case "invalid_json":
    case "unsupported_media_type":
    case "body_too_large":
    case "invalid_request":
      return "invalid_request";
    case "server_error":
      return "server_error";
    case "store_unavailable":
    case "server_busy":
      return "temporarily_unavailable";
    default:
      return e.code;
  }
}

/** RFC 6749 §5.2 error responses: `{"error", "error_description"}`. */
function oauthErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toTesseraError(err);
  if (e.status >= 500) request.log.error({ err: e.cause ?? e, error: e.code }, "request failed");
  else request.log.info({ error: e.code, status: e.status }, "request refused");
  if (e.code === "invalid_client")
    reply.header("www-authenticate", 'Basic realm="tessera", charset="UTF-8"');
  if (e.retryAfter !== undefined) reply.header("retry-after", String(e.retryAfter));
  reply.code(e.status).send({ error: oauthErrorOf(e), error_description: e.message });
}

/**
 * The form parameters of an OAuth request. Form-encoded bodies only; a parameter sent
 * twice is an error (RFC 6749 §3.2); values are strings of bounded size.
 */
function formParams(request: FastifyRequest): FormParams {
  const type = request.headers["content-type"] ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    throw new TesseraError(
      "invalid_request",
      "OAuth requests are application/x-www-form-urlencoded.",
      {
        oauthError: "invalid_request",
      },
    );
  }
  const body = (request.body ?? {}) as Record<string, unknown>;
  const out: FormParams = {};
  for (const [k, v] of Object.entries(body)) {
    if (typeof v !== "string") {
      throw new TesseraError("invalid_request", `Parameter ${k} is repeated.`, {
        oauthError: "invalid_request",
      });
    }
    if (v !== "") out[k] = v;
  }
  return out;
}

/** POST /oauth/token, /oauth/introspect and /oauth/revoke. */
export async function oauthRoutes(app: FastifyInstance, tessera: Tessera): Promise<void> {
  app.setErrorHandler(oauthErrorHandler);
  // One line per client per window, naming the client (never a token): someone is sending
  // tokens this installation never issued through that client (see the docs page).
  const unsubscribe = tessera.forgeries.onFishing((e) => {
    app.log.warn(
      { client_id: e.clientId, forged: e.forged, limit: e.limit, window_s: e.windowSeconds },
      "introspection fishing: client sends tokens this server never issued; its forged-token answers are now tarpitted",
    );
  });
  app.addHook("onClose", async () => unsubscribe());

  app.post("/oauth/token", async (request, reply) => {
    const result = await tessera.oauth.token(request.headers.authorization, formParams(request));
    if (result.fingerprint !== undefined) {
      reply.header(
        "set-cookie",
        fingerprintCookie(result.fingerprint.value, result.fingerprint.maxAge),
      );
    }
    return result.body;
  });

  app.post("/oauth/introspect", async (request) => {
    return tessera.oauth.introspect(request.headers.authorization, formParams(request));
  });

  // The revocation feed answers its errors like the other OAuth endpoints.
  eventRoutes(app, tessera);

  app.post("/oauth/revoke", async (request, reply) => {
    await tessera.oauth.revoke(request.headers.authorization, formParams(request));
    return reply.code(200).send();
  });
}

/**
 * OWASP token-sidejacking defence for browser clients: a hardened cookie the token is
 * bound to (the token carries its SHA-256; a stolen token alone is refused).
 */
export function fingerprintCookie(value: string, maxAge: number): string {
  return `__Host-fgp=${value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${maxAge}`;
}
