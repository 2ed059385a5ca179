/**
 * The request log of `tessera bff`: Fastify's two lines per request ("incoming request",
 * "request completed") cost about a quarter of the BFF's CPU per proxied call, and a
 * BFF's successes are its APIs' own traffic. So, as a Fastify `logController`: at `info`,
 * one "request completed" line per answer that is not a success (status 400 and up; the
 * fields of Fastify's line plus `req`, since no "incoming request" line precedes it) and
 * Fastify's "request errored" line as before; at `debug`, every request as Fastify logs
 * it.
 */
import { type FastifyReply, type FastifyRequest, LogController } from "fastify";

/** The levels at which every request is logged. */
const VERBOSE = new Set(["debug", "trace"]);

export class BffLogController extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (VERBOSE.has(request.log.level)) request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
    metadata?: Record<string, unknown>,
  ): void {
    if (error) super.requestCompleted(error, request, reply, metadata);
    else if (reply.statusCode >= 400) {
      reply.log.info(
        { req: request, res: reply, responseTime: reply.elapsedTime },
        "request completed",
      );
    } else if (VERBOSE.has(reply.log.level)) {
      reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
    }
  }
}
