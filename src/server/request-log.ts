import { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import type { Logger } from "pino";

/** A request that took at least this long (ms) is logged at `info` even when it succeeded. */
export const SLOW_REQUEST_MS = 1_000;

/**
 * Which request lines the server writes (Fastify's `logController`; README: Logging).
 *
 * - `incoming request` (`req`: id, method, url without secrets, ip): at `debug`.
 * - `request completed` (`req`, `res.statusCode`, `responseTime` in ms): at `info` when the
 *   answer is not a plain success (status 400 or more) or took SLOW_REQUEST_MS or more, at
 *   `debug` otherwise. So at the default level, `info`, a 2xx/3xx answered in time writes
 *   no line at all — the two lines each request used to write were about a quarter of
 *   GET /session's CPU — and `--log-level debug` logs every request, as before.
 * - `request errored` (a response stream that failed): at `error`, as Fastify does.
 *
 * Security events (login, logout, password change, consent, refusals with their stable
 * code, 5xx with their error) are logged by the routes themselves, at `info` or `error`,
 * whatever the status; the audit trail records them too.
 */
export class RequestLog extends LogController {
  readonly #log: Logger;

  constructor(log: Logger) {
    super();
    this.#log = log;
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.#log.isLevelEnabled("debug")) request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const responseTime = reply.elapsedTime;
    if (error) {
      reply.log.error({ req: request, res: reply, err: error, responseTime }, "request errored");
    } else if (reply.statusCode >= 400 || responseTime >= SLOW_REQUEST_MS) {
      reply.log.info({ req: request, res: reply, responseTime }, "request completed");
    } else if (this.#log.isLevelEnabled("debug")) {
      reply.log.debug({ req: request, res: reply, responseTime }, "request completed");
    }
  }
}
