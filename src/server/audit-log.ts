import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { AuditTrail } from "../audit/recorder.js";

/**
 * The audit trail as JSON log lines: one line per security event, at info, with the
 * record under the stable `audit` key (`{"audit":{"id":…,"type":"login_failed",…}}`). A
 * record the durable store refused is logged at error level, with the record, under the
 * same key and `audit_write_failed: true`, so the event still reaches the logs. The
 * logger's censor (./logger.ts) applies as to every line; the records hold no secret.
 */
export function auditLogLines(app: FastifyInstance, trail: AuditTrail): void {
  const log: FastifyBaseLogger = app.log;
  const stop = trail.listen((record, failure) => {
    if (failure === undefined) {
      log.info({ audit: record }, `audit: ${record.type}`);
    } else {
      log.error(
        { audit: record, audit_write_failed: true, err: failure },
        `audit: ${record.type} could not be stored`,
      );
    }
  });
  app.addHook("onClose", async () => {
    stop();
  });
}
