import { createHash } from "node:crypto";
import type { KeptRevocation } from "./types.js";

/** The key of a kept revocation: the same revocation kept twice is one row. */
export function keptKey(event: KeptRevocation): string {
  const id =
    event.type === "jwt"
      ? ["jwt", event.iss, event.jti]
      : ["subject", event.sub, event.iss, event.before];
  return createHash("sha256").update(JSON.stringify(id)).digest("base64url");
}

/** Parses a stored body; undefined for one that is damaged (skipped, never thrown). */
export function parseKept(body: string): KeptRevocation | undefined {
  try {
    const e = JSON.parse(body) as KeptRevocation;
    return e.type === "jwt" || e.type === "subject" ? e : undefined;
  } catch {
    return undefined;
  }
}
