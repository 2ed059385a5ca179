import { isTesseraError } from "../errors.js";

/**
 * What a command that threw prints on stderr, and its exit code: 2 for a user's mistake
 * (a TesseraError below 500, `config_invalid` or `tls_invalid`), 1 for anything else.
 */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (isTesseraError(err)) {
    return {
      line: `tessera: ${err.message} (${err.code})`,
      exitCode:
        err.code === "config_invalid" || err.code === "tls_invalid" || err.status < 500 ? 2 : 1,
    };
  }
  return {
    line: `tessera: unexpected error: ${(err as Error)?.stack ?? String(err)}`,
    exitCode: 1,
  };
}
