import { randomFillSync } from "node:crypto";

/** Bytes drawn from the CSPRNG at a time (node's randomUUID keeps 2 KiB the same way). */
export const POOL_BYTES = 4096;

/**
 * Random bytes from the CSPRNG, drawn `size` bytes at a time and handed out in slices: one
 * `randomFillSync` per 4 KiB instead of one per value (a token request draws a jti, an
 * audit record id, an opaque token: each was its own call into the CSPRNG).
 *
 * Every byte is handed out once: a slice is copied (or encoded) out of the pool and the
 * pool's bytes are zeroed at once, and the pool is refilled from the CSPRNG when what is
 * left cannot serve a request whole. A request larger than the pool gets its own buffer.
 * A process has its own pool (Node does not fork a running process: `--workers` are fresh
 * processes), so no two processes can share bytes.
 */
export class RandomPool {
  private readonly pool: Buffer;
  /** Where the unused bytes begin; `size`: empty (filled on first use). */
  private offset: number;

  constructor(
    private readonly size: number = POOL_BYTES,
    /** Fills a buffer from the CSPRNG (tests pass a counting one). */
    private readonly fill: (buf: Buffer) => void = (buf) => {
      randomFillSync(buf);
    },
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError("RandomPool: bad size");
    this.pool = Buffer.allocUnsafeSlow(size);
    this.offset = size;
  }

  /** `n` fresh random bytes, in a buffer of their own. */
  bytes(n: number): Buffer {
    if (n > this.size) {
      const own = Buffer.allocUnsafe(n);
      this.fill(own);
      return own;
    }
    const at = this.take(n);
    const out = Buffer.allocUnsafe(n);
    this.pool.copy(out, 0, at, at + n);
    this.pool.fill(0, at, at + n);
    return out;
  }

  /** `n` fresh random bytes, base64url without padding. */
  base64url(n: number): string {
    if (n > this.size) return this.bytes(n).toString("base64url");
    const at = this.take(n);
    const s = this.pool.toString("base64url", at, at + n);
    this.pool.fill(0, at, at + n);
    return s;
  }

  private take(n: number): number {
    if (!Number.isInteger(n) || n < 0) throw new RangeError("RandomPool: bad length");
    if (this.offset + n > this.size) {
      this.fill(this.pool);
      this.offset = 0;
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }
}

/** The process's pool: what randomToken, randomId and SecretTokens.mint draw from. */
export const RANDOM = new RandomPool();
