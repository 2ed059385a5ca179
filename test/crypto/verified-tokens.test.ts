import { randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { sha256 } from "../../src/crypto/random.js";
import { SecretTokens, VERIFIED_TOKENS_MAX } from "../../src/crypto/token-format.js";
import { CRC_OFFSET, checkShape, checksumOf } from "../../src/crypto/token-shape.js";
import { VerifiedTokens } from "../../src/crypto/verified-tokens.js";

/** Counts the HMACs computed (the tag check), to tell a remembered token from a checked one. */
const hmacs = vi.hoisted(() => ({ count: 0 }));
vi.mock("node:crypto", async (importOriginal) => {
  const crypto = await importOriginal<typeof import("node:crypto")>();
  const createHmac: typeof crypto.createHmac = (...args) => {
    hmacs.count++;
    return crypto.createHmac(...args);
  };
  return { ...crypto, default: { ...crypto, createHmac }, createHmac };
});

const installation = (max?: number) => new SecretTokens(randomBytes(32), max);

/** A well-shaped token with a valid checksum whose tag is not ours (one tag character changed). */
function forge(token: string): string {
  const i = 50;
  const head = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1, CRC_OFFSET);
  return head + checksumOf(head);
}

describe("SecretTokens.keyOf: tokens verified once, remembered with their store key", () => {
  it("gives sha256(token) for our token, and a second check costs no HMAC", () => {
    const tokens = installation();
    const t = tokens.mint();
    hmacs.count = 0;
    expect(tokens.keyOf(t)).toBe(sha256(t));
    expect(hmacs.count).toBe(1);
    expect(tokens.keyOf(t)).toBe(sha256(t));
    expect(tokens.keyOf(`${t.slice(0, 10)}${t.slice(10)}`)).toBe(sha256(t));
    expect(hmacs.count).toBe(1);
    expect(tokens.remembered).toBe(1);
  });

  it("never remembers a failed check: a forged token is refused every time, at an HMAC each", () => {
    const tokens = installation();
    const forged = forge(tokens.mint());
    expect(checkShape(forged)).toBe(true);
    hmacs.count = 0;
    for (let i = 0; i < 3; i++) expect(tokens.keyOf(forged)).toBeUndefined();
    expect(hmacs.count).toBe(3);
    expect(tokens.remembered).toBe(0);
    // Junk of other shapes is refused before any HMAC, and not remembered either.
    for (const junk of [undefined, 42, "", "tsr_", forged.slice(1), `${forged}A`]) {
      expect(tokens.keyOf(junk)).toBeUndefined();
    }
    expect(hmacs.count).toBe(3);
    expect(tokens.remembered).toBe(0);
  });

  it("a token of another tag key is refused, even when that key's instance remembers it", () => {
    const ours = installation();
    const theirs = installation();
    const t = theirs.mint();
    expect(theirs.keyOf(t)).toBe(sha256(t));
    expect(ours.keyOf(t)).toBeUndefined();
    expect(ours.keyOf(t)).toBeUndefined();
    expect(ours.remembered).toBe(0);
  });

  it("is bounded: past the bound the oldest token is dropped and checked again when it comes back", () => {
    const tokens = installation(2);
    const [a, b, c] = [tokens.mint(), tokens.mint(), tokens.mint()];
    for (const t of [a, b, c]) tokens.keyOf(t);
    expect(tokens.remembered).toBe(2);
    hmacs.count = 0;
    tokens.keyOf(b);
    tokens.keyOf(c);
    expect(hmacs.count).toBe(0);
    expect(tokens.keyOf(a)).toBe(sha256(a));
    expect(hmacs.count).toBe(1);
    expect(tokens.remembered).toBe(2);
    expect(VERIFIED_TOKENS_MAX).toBeGreaterThan(0);
  });

  it("forget drops a token: its next check computes the tag again", () => {
    const tokens = installation();
    const t = tokens.mint();
    tokens.keyOf(t);
    tokens.forget(t);
    expect(tokens.remembered).toBe(0);
    hmacs.count = 0;
    expect(tokens.keyOf(t)).toBe(sha256(t));
    expect(hmacs.count).toBe(1);
  });

  it("isOurs itself remembers nothing (one-use tokens stay out of memory)", () => {
    const tokens = installation();
    expect(tokens.isOurs(tokens.mint())).toBe(true);
    expect(tokens.remembered).toBe(0);
  });
});

describe("VerifiedTokens", () => {
  it("drops the oldest added past its bound; 0 remembers nothing", () => {
    const v = new VerifiedTokens(2);
    v.add("a", "ka");
    v.add("b", "kb");
    v.add("c", "kc");
    expect([v.get("a"), v.get("b"), v.get("c")]).toEqual([undefined, "kb", "kc"]);
    const off = new VerifiedTokens(0);
    off.add("a", "ka");
    expect(off.get("a")).toBeUndefined();
    expect(() => new VerifiedTokens(-1)).toThrow(TypeError);
  });
});
