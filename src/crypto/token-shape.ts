/**
 * The public, keyless half of Tessera's token format (docs/introspection-fishing.md):
 *
 *   tsr_ <body: 43> <tag: 8> <crc: 6>        61 characters, all base64url
 *
 * - body: 32 bytes (256 bits) from the CSPRNG, base64url;
 * - tag: the first 6 bytes of HMAC-SHA256(installation key, "tsr_" + body), base64url —
 *   checked by the server only (src/crypto/token-format.ts);
 * - crc: CRC-32 (IEEE) of the 55 characters before it, 4 bytes big-endian, base64url.
 *
 * Anyone can check the shape and the checksum without a key: secret scanners, and
 * `tessera/guard`, which refuses a mistyped or made-up token without a round trip. This
 * file imports nothing, so the guard may import it and stay a pure library.
 */

export const TOKEN_PREFIX = "tsr_";
/** base64url characters of the 32-byte body. */
export const BODY_CHARS = 43;
/** base64url characters of the 6-byte tag. */
export const TAG_CHARS = 8;
/** base64url characters of the 4-byte checksum. */
export const CRC_CHARS = 6;
/** Every token's length: 4 + 43 + 8 + 6. */
export const TOKEN_CHARS = TOKEN_PREFIX.length + BODY_CHARS + TAG_CHARS + CRC_CHARS;
/** Where the checksum starts (the first 55 characters are what it covers). */
export const CRC_OFFSET = TOKEN_CHARS - CRC_CHARS;

/** The secret-scanner pattern (the checksum then tells a token from a look-alike). */
const PATTERN = /^tsr_[A-Za-z0-9_-]{57}$/;

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), the table computed once. */
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 of bytes, or of a string's UTF-16 code units taken as bytes (callers pass ASCII
 * only). Node 20 has no zlib.crc32 (added in 22.2).
 */
export function crc32(data: Uint8Array | string): number {
  let c = 0xffffffff;
  if (typeof data === "string") {
    for (let i = 0; i < data.length; i++) {
      c = (TABLE[(c ^ data.charCodeAt(i)) & 0xff] as number) ^ (c >>> 8);
    }
  } else {
    for (let i = 0; i < data.length; i++) {
      c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
    }
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** The 6-character checksum of the 55 characters a token starts with. */
export function checksumOf(head: string): string {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(crc32(head), 0);
  return b.toString("base64url");
}

/**
 * True when `value` is shaped like a Tessera token and its checksum is right: the prefix,
 * 61 base64url characters, the CRC. Needs no key and says nothing about whether Tessera
 * issued it (the tag decides that, on the server).
 */
export function checkShape(value: unknown): value is string {
  if (typeof value !== "string" || value.length !== TOKEN_CHARS || !PATTERN.test(value)) {
    return false;
  }
  return value.endsWith(checksumOf(value.slice(0, CRC_OFFSET)));
}
