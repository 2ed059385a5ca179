import type { Clock } from "../clock.js";
import { TesseraError } from "../errors.js";
import { type AuditLog, type AuditRecord, MAX_AUDIT_QUERY_LIMIT } from "../store/types.js";
import type { Users } from "../users/users.js";
import { AUDIT_TYPES, isAuditType } from "./catalogue.js";

/** What `tessera audit` asks for, as typed (validated here). */
export interface AuditRequest {
  /** A username, or a user id (a name that is no user's is taken as an id). */
  user?: string | undefined;
  client?: string | undefined;
  type?: string | undefined;
  /** A duration back from now: `90s`, `15m`, `1h`, `7d`, `2w`. */
  since?: string | undefined;
  /** At most this many records (default 100, at most 1000). */
  limit?: number | undefined;
}

export const DEFAULT_AUDIT_LIMIT = 100;

const UNIT_MS: Record<string, number> = {
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** `1h` → 3 600 000. Throws `invalid_request` for anything but a whole number and a unit. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,6})([smhdw])$/.exec(text);
  if (m === null) {
    throw new TesseraError(
      "invalid_request",
      "--since needs a duration such as 90s, 15m, 1h, 7d or 2w",
    );
  }
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/**
 * Checks a request without reading anything (the CLI checks before opening the store):
 * returns the limit and the window's length. Throws `invalid_request` for an unknown
 * type, a bad duration or a limit outside 1..MAX_AUDIT_QUERY_LIMIT.
 */
export function checkAuditRequest(req: AuditRequest): { limit: number; sinceMs?: number } {
  if (req.type !== undefined && !isAuditType(req.type)) {
    throw new TesseraError(
      "invalid_request",
      `unknown audit event type "${req.type.slice(0, 64)}"; one of ${AUDIT_TYPES.join(", ")}`,
    );
  }
  const limit = req.limit ?? DEFAULT_AUDIT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_QUERY_LIMIT) {
    throw new TesseraError(
      "invalid_request",
      `--limit must be a whole number from 1 to ${MAX_AUDIT_QUERY_LIMIT}`,
    );
  }
  return req.since === undefined ? { limit } : { limit, sinceMs: parseDuration(req.since) };
}

/** Reads the audit trail: the filters checked, a username resolved, the limit bounded. */
export class AuditQueries {
  constructor(
    private readonly log: AuditLog,
    private readonly users: Users,
    private readonly clock: Clock,
  ) {}

  /** Newest first. Throws `invalid_request` for an unknown type, a bad duration or limit. */
  async find(req: AuditRequest): Promise<AuditRecord[]> {
    const { limit, sinceMs } = checkAuditRequest(req);
    const since = sinceMs === undefined ? undefined : this.clock.now() - sinceMs;
    const userId =
      req.user === undefined
        ? undefined
        : ((await this.users.findByName(req.user))?.id ?? req.user);
    return this.log.query({
      limit,
      ...(userId === undefined ? {} : { userId }),
      ...(req.client === undefined ? {} : { clientId: req.client }),
      ...(req.type === undefined ? {} : { type: req.type }),
      ...(since === undefined ? {} : { since }),
    });
  }
}
