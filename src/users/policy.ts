import { TesseraError } from "../errors.js";
import { COMMON_BASES, COMMON_PASSWORDS } from "./common-passwords.js";

export const PASSWORD_MIN_LENGTH = 8;
/** Longest password accepted, in UTF-8 bytes. Longer ones get a fast 400, before hashing. */
export const PASSWORD_MAX_BYTES = 1024;
export const USERNAME_MAX_LENGTH = 64;

/** Letters, digits and `. _ - @ +`; 1–64 characters after NFKC normalisation. */
const USERNAME_PATTERN = /^[\p{L}\p{N}._@+-]{1,64}$/u;

/**
 * Normalises a username for display (NFKC) and returns the key that makes it unique:
 * case-folded, so "Alice" and "alice" are one account.
 */
export function normaliseUsername(input: string): { username: string; key: string } {
  const username = input.normalize("NFKC").trim();
  if (!USERNAME_PATTERN.test(username)) {
    throw new TesseraError(
      "invalid_username",
      "Usernames are 1 to 64 letters, digits or . _ - @ + characters.",
    );
  }
  return { username, key: username.toLowerCase() };
}

/**
 * Normalises a password (NFKC, as NIST SP 800-63B §5.1.1.2 recommends, so the same
 * password typed on two keyboards matches) and enforces the size limits. Never truncates.
 * Rejects NUL, which some downstream tools treat as the end of the string.
 */
export function normalisePassword(input: string): string {
  // Checked on the raw input first so a megabyte never reaches normalize().
  if (Buffer.byteLength(input, "utf8") > PASSWORD_MAX_BYTES * 4) {
    throw new TesseraError(
      "password_too_long",
      `Passwords are at most ${PASSWORD_MAX_BYTES} bytes.`,
    );
  }
  const password = input.normalize("NFKC");
  if (Buffer.byteLength(password, "utf8") > PASSWORD_MAX_BYTES) {
    throw new TesseraError(
      "password_too_long",
      `Passwords are at most ${PASSWORD_MAX_BYTES} bytes.`,
    );
  }
  if (password.includes("\u0000")) {
    throw new TesseraError("invalid_request", "Passwords must not contain NUL characters.");
  }
  return password;
}

/**
 * Checks a new password against the policy: 8+ characters (code points), at most 1024
 * bytes, not a common password, not the username. Returns the normalised password.
 */
export function checkNewPassword(input: string, usernameKey?: string): string {
  const password = normalisePassword(input);
  if ([...password].length < PASSWORD_MIN_LENGTH) {
    throw new TesseraError(
      "password_too_short",
      `Passwords need at least ${PASSWORD_MIN_LENGTH} characters.`,
    );
  }
  if (isCommonPassword(password, usernameKey)) {
    throw new TesseraError(
      "password_too_common",
      "That password is too common or too easy to guess; choose another.",
    );
  }
  return password;
}

export function isCommonPassword(password: string, usernameKey?: string): boolean {
  const lower = password.toLowerCase();
  if (COMMON_PASSWORDS.has(lower)) return true;
  if (usernameKey !== undefined && lower.includes(usernameKey) && usernameKey.length >= 4) {
    // "alice2024!" for user alice: the username padded with digits or symbols.
    if (/^[^\p{L}]*$/u.test(lower.replace(usernameKey, ""))) return true;
  }
  // A common word wrapped in digits and symbols, or repeated.
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, "");
  if (COMMON_BASES.has(core)) return true;
  const half = core.length / 2;
  if (Number.isInteger(half) && core.slice(0, half) === core.slice(half)) {
    if (COMMON_BASES.has(core.slice(0, half))) return true;
  }
  // A single character repeated, or a keyboard run of digits only.
  if (/^(.)\1*$/su.test(password)) return true;
  return false;
}
