import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SecretTokens } from "../../src/crypto/token-format.js";
import { CRC_OFFSET, checkShape, checksumOf, crc32 } from "../../src/crypto/token-shape.js";
import { KeyEncryptionKey } from "../../src/keys/kek.js";

const installation = () =>
  new SecretTokens(
    KeyEncryptionKey.fromSecret(randomBytes(32).toString("base64url")).derive("token-tag-v1"),
  );

/** The secret-scanner regex documented in docs/introspection-fishing.md. */
const SCANNER = /tsr_[A-Za-z0-9_-]{57}/;

/** Replaces the character at `i` with another base64url character. */
function flip(token: string, i: number): string {
  const c = token[i] === "A" ? "B" : "A";
  return token.slice(0, i) + c + token.slice(i + 1);
}

describe("CRC-32 (Node 20 has no zlib.crc32)", () => {
  it("matches the standard check values", () => {
    expect(crc32("")).toBe(0);
    expect(crc32("123456789")).toBe(0xcbf43926);
    expect(crc32("The quick brown fox jumps over the lazy dog")).toBe(0x414fa339);
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array([0]))).toBe(0xd202ef8d);
    expect(crc32(new Uint8Array(32).fill(0xff))).toBe(0xff6cab0b);
  });

  it("the checksum is CRC-32 of the head, 4 bytes big-endian, base64url", () => {
    const head = `tsr_${"A".repeat(51)}`;
    const b = Buffer.alloc(4);
    b.writeUInt32BE(crc32(head));
    expect(checksumOf(head)).toBe(b.toString("base64url"));
    expect(checksumOf(head)).toHaveLength(6);
  });
});

describe("the token format: tsr_ + 256 random bits + tag + CRC", () => {
  it("every token: 61 characters, the scanner regex, 256 bits from the CSPRNG, all distinct", () => {
    const tokens = installation();
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const t = tokens.mint();
      expect(t).toHaveLength(61);
      expect(t).toMatch(new RegExp(`^${SCANNER.source}$`));
      // The body: 43 base64url characters that decode to exactly 32 bytes.
      const body = Buffer.from(t.slice(4, 47), "base64url");
      expect(body).toHaveLength(32);
      expect(body.toString("base64url")).toBe(t.slice(4, 47));
      expect(checkShape(t)).toBe(true);
      expect(tokens.isOurs(t)).toBe(true);
      seen.add(t);
    }
    expect(seen.size).toBe(1000);
  });

  it("a secret scanner finds one in text and the CRC tells it from a look-alike", () => {
    const t = installation().mint();
    const found = SCANNER.exec(`export TOKEN="${t}" # oops`)?.[0];
    expect(found).toBe(t);
    expect(checkShape(found)).toBe(true);
    expect(checkShape(`tsr_${"a".repeat(57)}`)).toBe(false);
  });

  it("flipping any one character is caught by the CRC alone (no key needed)", () => {
    const tokens = installation();
    const t = tokens.mint();
    for (let i = 0; i < t.length; i++) {
      const bad = flip(t, i);
      expect(checkShape(bad), `position ${i}`).toBe(false);
      expect(tokens.isOurs(bad), `position ${i}`).toBe(false);
    }
  });

  it("the shape check refuses anything that is not exactly a token", () => {
    const t = installation().mint();
    for (const v of [
      "",
      "tsr_",
      t.slice(0, 60),
      `${t}A`,
      `TSR_${t.slice(4)}`,
      `${t.slice(0, 10)}+${t.slice(11)}`,
      `${t.slice(0, 10)}=${t.slice(11)}`,
      "A".repeat(43),
      undefined,
      42,
    ]) {
      expect(checkShape(v)).toBe(false);
    }
  });

  it("a right CRC over a wrong tag is not ours: the tag needs the installation's secret", () => {
    const tokens = installation();
    const t = tokens.mint();
    // A forger recomputes the public checksum after changing the tag.
    const head = flip(t.slice(0, CRC_OFFSET), 50);
    const forged = head + checksumOf(head);
    expect(checkShape(forged)).toBe(true);
    expect(tokens.isOurs(forged)).toBe(false);
  });

  it("a token of another installation (another secret) is well-shaped but not ours", () => {
    const ours = installation();
    const theirs = installation();
    const t = theirs.mint();
    expect(checkShape(t)).toBe(true);
    expect(theirs.isOurs(t)).toBe(true);
    expect(ours.isOurs(t)).toBe(false);
  });

  it("the same secret gives the same tags: every instance of an installation agrees", () => {
    const secret = randomBytes(32).toString("base64url");
    const a = new SecretTokens(KeyEncryptionKey.fromSecret(secret).derive("token-tag-v1"));
    const b = new SecretTokens(KeyEncryptionKey.fromSecret(secret).derive("token-tag-v1"));
    const body = randomBytes(32);
    expect(a.fromBytes(body)).toBe(b.fromBytes(body));
    expect(b.isOurs(a.mint())).toBe(true);
  });

  it("fromBytes takes exactly 32 bytes; the key must be 32 bytes or more", () => {
    const tokens = installation();
    expect(() => tokens.fromBytes(Buffer.alloc(31))).toThrow(TypeError);
    expect(() => new SecretTokens(Buffer.alloc(16))).toThrow(TypeError);
  });
});
