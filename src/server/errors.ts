import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorCode, isTesseraError, TesseraError } from "../errors.js";

/** Fastify's own client errors, mapped to our stable codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "invalid_request",
  FST_ERR_CTP_BODY_TOO_LARGE: "body_too_large",
  FST_ERR_CTP_EMPTY_JSON_BODY: "invalid_json",
  FST_ERR_CTP_INVALID_JSON_BODY: "invalid_json",
  FST_ERR_CTP_EMPTY_TYPE: "unsupported_media_type",
  FST_ERR_CTP_INVALID_TYPE: "unsupported_media_type",
  FST_ERR_VALIDATION: "invalid_request",
  FST_ERR_BAD_URL: "invalid_request",
  FST_ERR_MAX_PARAM_LENGTH: "uri_too_long",
  FST_ERR_ASYNC_CONSTRAINT: "invalid_request",
};

/** Plainer words than the code's default, where one helps (Fastify's own echo the input). */
const FASTIFY_MESSAGES: Record<string, string> = {
  FST_ERR_BAD_URL: "The request URL is not valid (malformed percent-encoding).",
};

/** Turns any error into a TesseraError; unknown ones become server_error (logged). */
export function toTesseraError(err: unknown): TesseraError {
  if (isTesseraError(err)) return err;
  const fe = err as Partial<FastifyError> & { type?: string; status?: number };
  const mapped = fe.code === undefined ? undefined : FASTIFY_CODES[fe.code];
  if (mapped !== undefined) return new TesseraError(mapped, FASTIFY_MESSAGES[fe.code as string]);
  // body-parser style errors (JSON.parse SyntaxError inside a content-type parser).
  if (err instanceof SyntaxError) return new TesseraError("invalid_json");
  const status = fe.statusCode ?? fe.status;
  if (status === 413) return new TesseraError("body_too_large");
  if (status === 415) return new TesseraError("unsupported_media_type");
  if (status !== undefined && status >= 400 && status < 500) {
    return new TesseraError("invalid_request");
  }
  return new TesseraError("server_error", undefined, { cause: err });
}

/**
 * One error shape for every non-OAuth endpoint: `{"error": code, "message": text}`.
 * Messages come from our own constants, never from input, so they cannot echo a secret.
 */
export function errorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const e = toTesseraError(err);
  if (e.status >= 500) {
    request.log.error({ err: e.cause ?? e, error: e.code }, "request failed");
  } else {
    request.log.info({ error: e.code, status: e.status }, "request refused");
  }
  if (e.retryAfter !== undefined) reply.header("retry-after", String(e.retryAfter));
  if (e.code === "invalid_credentials" || e.code === "unauthenticated") {
    reply.header("www-authenticate", 'Cookie realm="tessera"');
  }
  reply.code(e.status).send({ error: e.code, message: e.message });
}
