/**
 * Errors raised below the routes, answered like every other error: Tessera's shape
 * `{"error": code, "message": text}` (no route is known yet, so never the OAuth shape), a
 * stable code, and the security headers.
 *
 * - The router (Fastify's `frameworkErrors`): a URL that does not decode (`/session%`),
 *   an over-long path parameter. Route hooks have not run, so the headers are set here.
 * - Node's HTTP parser (`clientError`): header overflow (431 `header_too_large`), a request
 *   that does not arrive in time (408 `request_timeout`), anything that is not HTTP/1.1
 *   (bad chunked encoding, an unknown method, ...: 400 `invalid_request`). Answered with
 *   raw bytes on the socket, which is then closed; when the refused bytes follow a whole
 *   request on the same connection (pipelined), after that request's own answer.
 * - A protocol upgrade (`Upgrade: h2c`, websocket) or `CONNECT`: Tessera speaks none, and
 *   Node hands such a socket over instead of parsing the rest of the request (a body would
 *   never be read: the connection would hang). 400 `invalid_request`, then closed.
 *
 * Nothing from the request is logged or echoed: a parser error carries the raw bytes
 * (cookies, passwords), so only its code is kept.
 */
import { type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { TesseraError } from "../errors.js";
import { errorHandler } from "./errors.js";
import { applySecurityHeaders, securityHeaders } from "./security.js";

/** Fastify's `frameworkErrors` option: router errors, before any route or hook ran. */
export function frameworkErrors(
  hsts: boolean,
): (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  return (err, request, reply) => {
    applySecurityHeaders(reply, hsts);
    errorHandler(err, request, reply);
  };
}

/** What a Node HTTP parser error means for the client. */
export function parserError(code: string | undefined): TesseraError {
  switch (code) {
    case "HPE_HEADER_OVERFLOW":
      return new TesseraError("header_too_large");
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return new TesseraError("request_timeout");
    default:
      return new TesseraError("invalid_request", "The request is not valid HTTP/1.1.");
  }
}

/** A complete HTTP/1.1 answer for `e` that announces the connection's end. */
export function rawAnswer(e: TesseraError, hsts: boolean): string {
  const body = JSON.stringify({ error: e.code, message: e.message });
  const headers: Record<string, string> = {
    ...securityHeaders(hsts),
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status]}\r\n${lines.join("")}\r\n${body}`;
}

/** Writes the answer, then closes the socket (also if the client never closes its side). */
function answerAndClose(socket: Duplex, e: TesseraError, hsts: boolean): void {
  if (socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawAnswer(e, hsts), () => socket.destroy());
}

/**
 * The answer to a request that arrived whole before the bytes the parser refused (RFC
 * 9112 §9.3.2: answers go out in order), while it is not yet fully written.
 */
function answerInFlight(socket: Socket): ServerResponse | undefined {
  // Null between requests on a kept-alive connection (the last answer detached).
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (current === undefined || current === null || current.writableFinished) return undefined;
  return current.req.complete ? current : undefined;
}

/** A response already under way on this socket (its bytes must not be interleaved with ours). */
function responseStarted(socket: Socket): boolean {
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  return current?.headersSent === true;
}

/** Fastify's `clientErrorHandler` option (Node's `clientError` event). */
export function clientErrorHandler(
  hsts: boolean,
  log: FastifyBaseLogger,
): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    // A reset connection has no one to answer.
    if (err.code === "ECONNRESET" || socket.destroyed) return;
    const e = parserError(err.code);
    log.info({ error: e.code, status: e.status, reason: err.code }, "request refused");
    const inFlight = answerInFlight(socket);
    if (inFlight !== undefined) {
      // The earlier request was complete and is being served (its effects happen): its
      // answer goes out first, then ours, then the connection closes. Answering at once
      // ended the socket under it: the client saw a 400 for a request that had been done.
      inFlight.once("finish", () => {
        // Node ends a Connection: close exchange itself once that answer is out.
        if (!socket.destroyed && socket.writable) answerAndClose(socket, e, hsts);
      });
      inFlight.once("close", () => {
        if (!inFlight.writableFinished) socket.destroy();
      });
      return;
    }
    // The refused bytes are the request being answered (a body that breaks off, bad
    // chunked encoding): answered now, or cut if its answer is under way.
    if (responseStarted(socket)) {
      socket.destroy();
      return;
    }
    answerAndClose(socket, e, hsts);
  };
}

/** The server's `upgrade` and `connect` listeners: refused, answered and closed. */
export function refuseUpgrade(
  hsts: boolean,
  log: FastifyBaseLogger,
): (request: { method?: string | undefined }, socket: Duplex) => void {
  return (request, socket) => {
    const e = new TesseraError(
      "invalid_request",
      request.method === "CONNECT"
        ? "CONNECT is not supported: this is not a proxy."
        : "Protocol upgrades are not supported.",
    );
    log.info({ error: e.code, status: e.status, method: request.method }, "upgrade refused");
    answerAndClose(socket, e, hsts);
  };
}
