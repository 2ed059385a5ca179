import { createHmac, timingSafeEqual } from "node:crypto";
import { sha256, TOKEN_BYTES } from "./random.js";
import { RANDOM } from "./random-pool.js";
import {
  BODY_CHARS,
  CRC_OFFSET,
  checkShape,
  checksumOf,
  TOKEN_CHARS,
  TOKEN_PREFIX,
} from "./token-shape.js";
import { VerifiedTokens } from "./verified-tokens.js";

export { checkShape, TOKEN_CHARS, TOKEN_PREFIX } from "./token-shape.js";

/** Bytes of HMAC kept as the tag (48 bits: a forger's chance per guess is 2^-48). */
const TAG_BYTES = 6;
const TAG_END = TOKEN_PREFIX.length + BODY_CHARS;
/** Tokens `keyOf` remembers as verified, at most (the session cache's bound). */
export const VERIFIED_TOKENS_MAX = 20_000;

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
  /** Tokens `keyOf` found ours, with their store keys (./verified-tokens.ts). */
  readonly #verified: VerifiedTokens;

  constructor(
    private readonly key: Buffer,
    verifiedMax = VERIFIED_TOKENS_MAX,
  ) {
    if (key.length < 32) throw new TypeError("SecretTokens: the tag key must be 32 bytes or more");
    this.#verified = new VerifiedTokens(verifiedMax);
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

  /**
   * The store key (`sha256(token)`) of a token this installation issued, or undefined for
   * anything else: `isOurs` then the hash, remembered for a token presented again (a
   * session cookie), so its next check is one Map lookup. A token that fails is never
   * remembered. For the tokens callers present repeatedly; one-use tokens (codes) need
   * not pass through here.
   */
  keyOf(value: unknown): string | undefined {
    if (typeof value !== "string" || value.length !== TOKEN_CHARS) return undefined;
    const known = this.#verified.get(value);
    if (known !== undefined) return known;
    if (!this.isOurs(value)) return undefined;
    const key = sha256(value);
    this.#verified.add(value, key);
    return key;
  }

  /** Drops a token `keyOf` remembered (it names nothing live any more). */
  forget(token: string): void {
    this.#verified.forget(token);
  }

  /** How many tokens `keyOf` remembers now. */
  get remembered(): number {
    return this.#verified.size;
  }

  private tag(head: string): Buffer {
    return createHmac("sha256", this.key).update(head, "latin1").digest().subarray(0, TAG_BYTES);
  }
}
