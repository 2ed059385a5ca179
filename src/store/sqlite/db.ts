import type Database from "better-sqlite3";

export type Db = Database.Database;

/** A UNIQUE or PRIMARY KEY constraint refused the write (the record already exists). */
export function isUniqueViolation(err: unknown): boolean {
  return (
    typeof err === "object" &&
    err !== null &&
    "code" in err &&
    (err.code === "SQLITE_CONSTRAINT_UNIQUE" || err.code === "SQLITE_CONSTRAINT_PRIMARYKEY")
  );
}
