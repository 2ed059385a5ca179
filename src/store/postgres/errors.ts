import { TesseraError } from "../../errors.js";
import { scrub } from "../url.js";

/**
 * How a failure of PostgreSQL reaches callers: `store_unavailable` (503, Retry-After: 1)
 * when the database cannot answer now — down, unreachable, restarting, overloaded, a
 * statement or pool wait past its timeout, a transaction that lost a deadlock — and
 * `server_error` (500) when it answered that the request itself is wrong (a bug or
 * damaged data). Callers retry the first; nobody should have to retry the second.
 *
 * Neither keeps `pg`'s error as the cause: its `detail` quotes the values of a failed
 * constraint (record ids, user names) and some messages quote input. The cause is a
 * plain Error with the SQLSTATE and, where that class never quotes values, the message.
 */

/** SQLSTATE classes (first two characters) that mean "the database cannot answer now". */
const UNAVAILABLE_CLASSES = new Set([
  "08", // connection exception
  "53", // insufficient resources: too many connections, disk full, out of memory
  "57", // operator intervention: statement timeout (57014), shutdown, cannot connect now
  "58", // system error (I/O)
  "40", // transaction rollback: deadlock, serialization failure (after retries)
  "28", // invalid authorization (credentials changed under a running server)
  "3D", // invalid catalog name (the database was dropped)
]);

/** Individual codes outside those classes that mean the same. */
const UNAVAILABLE_CODES = new Set([
  "55P03", // lock_not_available
  "25P03", // idle_in_transaction_session_timeout
]);

/** Classes whose messages may quote a value (data exceptions, constraint violations). */
const QUOTING_CLASSES = new Set(["22", "23"]);

/** A deadlock or serialization failure: the statement was rolled back whole; retry it. */
export function isRetryable(err: unknown): boolean {
  const code = sqlState(err);
  return code === "40001" || code === "40P01";
}

/** A UNIQUE or PRIMARY KEY constraint refused the write. */
export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === "23505";
}

/** The SQLSTATE of an error PostgreSQL sent, or undefined (a client-side failure). */
export function sqlState(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  const code = (err as { code: unknown }).code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  // Only errors the server sent carry a severity: Node's own (EPIPE) may look alike.
  return "severity" in err ? code : undefined;
}

/** True when the failure means the database cannot answer now (see the module comment). */
export function isUnavailable(err: unknown): boolean {
  const code = sqlState(err);
  if (code === undefined) return true; // connection refused, reset, timed out, pool wait
  return UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_CODES.has(code);
}

/** A cause safe to log: the SQLSTATE, and the message unless it may quote a value. */
function safeCause(err: unknown, secrets: readonly string[]): Error {
  const code = sqlState(err);
  let message = err instanceof Error ? err.message : String(err);
  if (code !== undefined && QUOTING_CLASSES.has(code.slice(0, 2))) message = "";
  message = scrub(message, secrets);
  const cause = new Error(
    code === undefined ? message : `SQLSTATE ${code}${message === "" ? "" : `: ${message}`}`,
  );
  cause.name = err instanceof Error ? err.name : "Error";
  return cause;
}

/** Turns a failure of a PostgreSQL call into a TesseraError (TesseraErrors pass through). */
export function storeError(err: unknown, secrets: readonly string[] = []): TesseraError {
  if (err instanceof TesseraError) return err;
  const cause = safeCause(err, secrets);
  if (isUnavailable(err)) {
    return new TesseraError("store_unavailable", "The PostgreSQL store is unavailable.", {
      cause,
      retryAfter: 1,
    });
  }
  return new TesseraError("server_error", "PostgreSQL rejected a store command.", { cause });
}

/** The URL's credentials were refused (wrong password, unknown role). */
export function isAuthError(err: unknown): boolean {
  const code = sqlState(err);
  return code === "28P01" || code === "28000";
}

/** Where the URL points, for messages: host, port and database, never credentials. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname === "" ? "localhost" : u.hostname;
    const db = decodeURIComponent(u.pathname.replace(/^\//, ""));
    return `${host}:${u.port === "" ? "5432" : u.port}${db === "" ? "" : `/${db}`}`;
  } catch {
    return "the configured address";
  }
}
