/** The audit trail (issue 14): the event catalogue, the recorder, the queries. */
export { AUDIT_EVENTS, AUDIT_TYPES, type AuditType, isAuditType } from "./catalogue.js";
export {
  AuditQueries,
  type AuditRequest,
  checkAuditRequest,
  DEFAULT_AUDIT_LIMIT,
  parseDuration,
} from "./query.js";
export {
  type AuditEvent,
  type AuditListener,
  type AuditRecorder,
  type AuditStats,
  AuditTrail,
  clientActor,
  NO_AUDIT,
  userActor,
} from "./recorder.js";
