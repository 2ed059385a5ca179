import { TesseraError } from "../errors.js";
import type { UserRecord } from "../store/types.js";

/** What OpenID Connect tells relying parties about a user besides the username. */
export interface ProfileChanges {
  /** null: none any more. */
  email?: string | null;
  emailVerified?: boolean;
  /** null: none any more (the username stands in for it). */
  displayName?: string | null;
}

/** RFC 5321's limit on a path; a display name is a line of text, not a document. */
const MAX_EMAIL = 254;
const MAX_DISPLAY_NAME = 128;
/** One @, something on each side, no spaces or controls: what the operator meant, not RFC 5322. */
const EMAIL = /^[^\s@\p{Cc}]+@[^\s@\p{Cc}]+$/u;

function invalid(message: string): TesseraError {
  return new TesseraError("invalid_request", message);
}

/**
 * Applies profile changes to a user record (a copy), checked: an email of a sane shape,
 * a display name of printable text. `email_verified` is the operator's word and goes
 * with the email: a new email is unverified unless said otherwise, and no email is
 * never verified.
 */
export function withProfile(user: UserRecord, changes: ProfileChanges): UserRecord {
  const out: UserRecord = { ...user };
  if (changes.email !== undefined) {
    delete out.email;
    delete out.emailVerified;
    if (changes.email !== null && changes.email !== "") {
      const email = changes.email.normalize("NFC");
      if (email.length > MAX_EMAIL || !EMAIL.test(email)) {
        throw invalid("An email address is name@domain, without spaces (up to 254 characters).");
      }
      out.email = email;
    }
  }
  if (changes.emailVerified !== undefined) {
    if (changes.emailVerified && out.email === undefined) {
      throw invalid("Only an email address can be verified (--email).");
    }
    if (changes.emailVerified) out.emailVerified = true;
    else delete out.emailVerified;
  }
  if (changes.displayName !== undefined) {
    delete out.displayName;
    if (changes.displayName !== null && changes.displayName.trim() !== "") {
      const name = changes.displayName.normalize("NFC").trim();
      if (name.length > MAX_DISPLAY_NAME || /\p{Cc}/u.test(name)) {
        throw invalid("A display name is one line of up to 128 characters.");
      }
      out.displayName = name;
    }
  }
  return out;
}
