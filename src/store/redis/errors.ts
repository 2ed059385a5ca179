import { TesseraError } from "../../errors.js";

export { credentialsOf } from "../url.js";

/**
 * Turns an ioredis failure into a TesseraError. The original error is not kept as the
 * cause: ioredis attaches the command and its arguments (record ids, values) to it.
 */
export function storeError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const name = err instanceof Error ? err.name : "Error";
  const message = err instanceof Error ? err.message : String(err);
  const cause = new Error(message);
  cause.name = name;
  // A reply error means the server answered (wrong type, script error): a bug or damaged
  // data, not an outage. Anything else (closed connection, timeout, retries exhausted) is.
  if (name === "ReplyError") {
    return new TesseraError("server_error", "Redis rejected a store command.", { cause });
  }
  return new TesseraError("store_unavailable", "The Redis store is unavailable.", {
    cause,
    retryAfter: 1,
  });
}

export async function guard<R>(op: () => Promise<R>): Promise<R> {
  try {
    return await op();
  } catch (err) {
    throw storeError(err);
  }
}

export function isAuthError(err: unknown): boolean {
  return err instanceof Error && /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(err.message);
}

/** Where the URL points, for messages: host and port only, never credentials. */
export function describeTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port === "" ? "6379" : u.port}`;
  } catch {
    return "the configured address";
  }
}
