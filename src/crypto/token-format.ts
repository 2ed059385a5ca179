import { createHmac, timingSafeEqual } from "node:crypto";
import { TOKEN_BYTES } from "./random.js";
import { RANDOM } from "./random-pool.js";
import { BODY_CHARS, CRC_OFFSET, checkShape, checksumOf, TOKEN_PREFIX } from "./token-shape.js";

export { checkShape, TOKEN_CHARS, TOKEN_PREFIX } from "./token-shape.js";

/** Bytes of HMAC kept as the tag (48 bits: a forger's chance per guess is 2^-48). */
const TAG_BYTES = 6;
const TAG_END = TOKEN_PREFIX.length + BODY_CHARS;

/**
 * Every secret bearer token Tessera issues — session ids, opaque access tokens, refresh
 * tokens (derived successors included), authorization codes, consent interaction ids,
 * client secrets — has one format: `tsr_` + 256 random bits + a tag only this
 * installation can compute + a public checksum (src/crypto/token-shape.ts).
 *
 * `isOurs` checks the tag in constant time with no I/O, so every store lookup by token is
 * preceded by it: a value Tessera never issued (junk, a guess, a token of another
 * installation) costs one HMAC, never a lookup. The tag key is derived from the
 * installation's secret (`kek.derive("token-tag-v1")`), shared by every instance.
 */
export class SecretTokens {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new TypeError("SecretTokens: the tag key must be 32 bytes or more");
  }

  /** A new token: 32 bytes from the CSPRNG (through the process's pool, random-pool.ts). */
  mint(): string {
    return this.fromBytes(RANDOM.bytes(TOKEN_BYTES));
  }

  /** The token whose body is these 32 bytes (a derived refresh successor, for one). */
  fromBytes(body: Buffer): string {
    if (body.length !== TOKEN_BYTES) throw new TypeError("SecretTokens: the body is 32 bytes");
    const head = TOKEN_PREFIX + body.toString("base64url");
    const tagged = head + this.tag(head).toString("base64url");
    return tagged + checksumOf(tagged);
  }

  /** Shape, checksum and tag: a token this installation issued (and nothing about its state). */
  isOurs(value: unknown): value is string {
    if (!checkShape(value)) return false;
    const expected = this.tag(value.slice(0, TAG_END));
    const presented = Buffer.from(value.slice(TAG_END, CRC_OFFSET), "base64url");
    // 8 base64url characters always decode to 6 bytes; checked so timingSafeEqual cannot throw.
    return presented.length === TAG_BYTES && timingSafeEqual(expected, presented);
  }

  private tag(head: string): Buffer {
    return createHmac("sha256", this.key).update(head, "latin1").digest().subarray(0, TAG_BYTES);
  }
}
