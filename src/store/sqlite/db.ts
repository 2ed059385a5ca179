import type Database from "better-sqlite3";
import type { TesseraError } from "../../errors.js";

export type Db = Database.Database;

/** A UNIQUE or PRIMARY KEY constraint refused the write (the record already exists). */
function isUniqueViolation(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    "code" in err &&
    (err.code === "SQLITE_CONSTRAINT_UNIQUE" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY")
  );
}

/** Runs a write; a UNIQUE or PRIMARY KEY violation becomes `exists()` (e.g. `userExists`). */
export function writeUnique<R>(write: () => R, exists: () => TesseraError): R {
  try {
    return write();
  } catch (err) {
    if (isUniqueViolation(err)) throw exists();
    throw err;
  }
}
