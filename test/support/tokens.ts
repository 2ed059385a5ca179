import { randomBytes } from "node:crypto";
import { SecretTokens } from "../../src/crypto/token-format.js";
import { checksumOf } from "../../src/crypto/token-shape.js";

/**
 * A value with Tessera's token shape and a right checksum (anyone can compute it) but a
 * random tag: what a forger or a sprayer who knows the format sends. Not ours (2^-48).
 */
export function forgedToken(): string {
  const head = `tsr_${randomBytes(32).toString("base64url")}${randomBytes(6).toString("base64url")}`;
  return head + checksumOf(head);
}

/** A fixed well-shaped token (right checksum, made-up tag), for stub issuers in guard tests. */
export function shapedToken(fill = "x"): string {
  const head = `tsr_${fill.repeat(42)}A${"A".repeat(8)}`;
  return head + checksumOf(head);
}

/** A genuine token of another installation (another secret): well-shaped, not ours. */
export function foreignToken(): string {
  return new SecretTokens(randomBytes(32)).mint();
}

/** Junk of every kind that is not a token of ours. */
export function junk(): string[] {
  return [
    "nope",
    "A".repeat(43), // the old 43-character shape
    `tsr_${"a".repeat(57)}`, // the scanner regex, a wrong checksum
    forgedToken(),
    foreignToken(),
    "e30.e30.e30", // JWT-shaped, not signed by us
    "x".repeat(10_000),
  ];
}
