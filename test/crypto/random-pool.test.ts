import { describe, expect, it } from "vitest";
import { randomId, randomToken } from "../../src/crypto/random.js";
import { POOL_BYTES, RANDOM, RandomPool } from "../../src/crypto/random-pool.js";

/** A fill that writes distinct bytes on every call (a counter), and counts its calls. */
function countingFill() {
  let next = 0;
  const calls: number[] = [];
  return {
    calls,
    fill(buf: Buffer) {
      calls.push(buf.length);
      for (let i = 0; i < buf.length; i++) buf[i] = (next++ % 251) + 1;
    },
  };
}

describe("RandomPool: CSPRNG bytes drawn in blocks, each byte handed out once", () => {
  it("hands out consecutive, non-overlapping slices of one fill", () => {
    const f = countingFill();
    const pool = new RandomPool(64, f.fill);
    const a = pool.bytes(16);
    const b = pool.bytes(16);
    const c = Buffer.from(pool.base64url(32), "base64url");
    expect(f.calls).toEqual([64]);
    // The counter fill wrote 1..64: the slices are its three thirds, in order, no byte twice.
    expect([...a, ...b, ...c]).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
  });

  it("refills when what is left cannot serve a request whole (never a byte twice)", () => {
    const f = countingFill();
    const pool = new RandomPool(40, f.fill);
    const a = pool.bytes(32);
    const b = pool.bytes(16); // 8 left: refilled, b is the start of the second fill
    expect(f.calls).toEqual([40, 40]);
    expect([...a]).toEqual(Array.from({ length: 32 }, (_, i) => i + 1));
    expect([...b]).toEqual(Array.from({ length: 16 }, (_, i) => 41 + i));
  });

  it("gives copies: the pool's bytes are wiped once handed out, the caller's stay", () => {
    const f = countingFill();
    const pool = new RandomPool(64, f.fill);
    const a = pool.bytes(32);
    const kept = Buffer.from(a);
    pool.bytes(32);
    pool.bytes(32); // refill overwrites the whole pool
    expect(a.equals(kept)).toBe(true);
    expect(a.buffer).not.toBe((pool as unknown as { pool: Buffer }).pool.buffer);
    const inner = (pool as unknown as { pool: Buffer }).pool;
    expect([...inner.subarray(0, 32)]).toEqual(new Array(32).fill(0));
  });

  it("serves a request larger than the pool from its own fill", () => {
    const f = countingFill();
    const pool = new RandomPool(16, f.fill);
    expect(pool.bytes(100)).toHaveLength(100);
    expect(Buffer.from(pool.base64url(50), "base64url")).toHaveLength(50);
    expect(f.calls).toEqual([100, 50]);
  });

  it("refuses a length that is not a whole number", () => {
    const pool = new RandomPool(16, countingFill().fill);
    expect(() => pool.bytes(-1)).toThrow(RangeError);
    expect(() => pool.bytes(1.5)).toThrow(RangeError);
  });

  it("the process pool is the CSPRNG's: values across many refills are all distinct", () => {
    const seen = new Set<string>();
    const n = Math.ceil((POOL_BYTES * 5) / 16);
    for (let i = 0; i < n; i++) seen.add(RANDOM.base64url(16));
    for (let i = 0; i < n; i++) seen.add(randomId());
    for (let i = 0; i < 200; i++) seen.add(randomToken());
    expect(seen.size).toBe(2 * n + 200);
  });
});
