import * as crypto from "node:crypto";
import { createHash, timingSafeEqual } from "node:crypto";
import { RANDOM } from "./random-pool.js";

/** Bytes of entropy in every secret token (256 bits). */
export const TOKEN_BYTES = 32;

/**
 * 256 bits from the CSPRNG, base64url without padding: for secrets that are never
 * presented as bearer tokens nor looked up (the fingerprint cookie, dummy values).
 * Bearer tokens — everything Tessera looks up by token — use SecretTokens
 * (src/crypto/token-format.ts).
 */
export function randomToken(): string {
  return RANDOM.base64url(TOKEN_BYTES);
}

/** A random public identifier (128 bits, base64url): safe to show, never a secret. */
export function randomId(): string {
  return RANDOM.base64url(16);
}

const RANDOM_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/**
 * True when `value` could be an id made by `randomId` — a user id among them. Client ids
 * may not look like one: a token's `sub` is a user id or a client id, and the two
 * namespaces must never meet (RFC 9068 §5).
 */
export function isRandomIdShaped(value: string): boolean {
  return RANDOM_ID_PATTERN.test(value);
}

/**
 * Node's one-shot digest (20.12+): about half the CPU of createHash().update().digest()
 * for a token-sized input (no Hash object). Undefined on 20.11, where `sha256` falls back.
 */
type OneShotHash = (algorithm: string, data: string, outputEncoding: "base64url") => string;
const oneShot = (crypto as { hash?: OneShotHash }).hash;

/** SHA-256 of a UTF-8 string, base64url: how secrets are keyed in every store. */
export function sha256(value: string): string {
  return oneShot === undefined ? sha256Streamed(value) : oneShot("sha256", value, "base64url");
}

/** The same digest through a Hash object: Node 20.11, and what `sha256` must equal. */
export function sha256Streamed(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("base64url");
}

/** Constant-time string equality (the length is not secret). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, "utf8");
  const bb = Buffer.from(b, "utf8");
  if (ab.length !== bb.length) {
    // Compare against itself so the work does not depend on where the strings differ.
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}
