import type { Clock } from "../../clock.js";
import { assertChain, assertRelease } from "../counters.js";
import type { ChainedCounter, CounterRelease, CounterState, Counters } from "../counters-types.js";
import { assertTtl } from "../validate.js";
import { guard } from "./errors.js";
import type { Client } from "./scripts.js";

/** Fixed-window counters as hashes; `hitChain` and `release` are one Lua script each. */
export class RedisCounters implements Counters {
  constructor(
    private readonly redis: Client,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  private key(key: string): string {
    return `${this.prefix}c:${key}`;
  }

  async hit(key: string, windowMs: number): Promise<CounterState> {
    assertTtl(windowMs);
    const now = this.clock.now();
    const [n, r] = await guard(() =>
      this.redis.tesseraHit(this.key(key), String(now), String(windowMs), String(now + windowMs)),
    );
    return { count: Number(n), resetAt: Number(r) };
  }

  async hitChain(chain: readonly ChainedCounter[]): Promise<CounterState[]> {
    assertChain(chain);
    if (chain.length === 0) return [];
    const now = this.clock.now();
    const keys = chain.map((link) => this.key(link.key));
    const argv = chain.flatMap((link) => [
      String(link.windowMs),
      String(now + link.windowMs),
      String(link.limit),
    ]);
    const reply = await guard(() =>
      this.redis.tesseraHitChain(keys.length, ...keys, String(now), ...argv),
    );
    const states: CounterState[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      states.push({ count: Number(reply[i]), resetAt: Number(reply[i + 1]) });
    }
    return states;
  }

  async get(key: string): Promise<CounterState | undefined> {
    const now = String(this.clock.now());
    const reply = await guard(() => this.redis.tesseraCounterGet(this.key(key), now));
    return reply === null ? undefined : { count: Number(reply[0]), resetAt: Number(reply[1]) };
  }

  async undo(key: string): Promise<void> {
    const now = String(this.clock.now());
    await guard(() => this.redis.tesseraCounterUndo(this.key(key), now));
  }

  async reset(key: string): Promise<void> {
    await guard(() => this.redis.del(this.key(key)));
  }

  async release(changes: readonly CounterRelease[]): Promise<void> {
    assertRelease(changes);
    if (changes.length === 0) return;
    const keys = changes.map((change) => this.key(change.key));
    const ops = changes.map((change) => (change.op === "undo" ? "u" : "r"));
    const now = String(this.clock.now());
    await guard(() => this.redis.tesseraCounterRelease(keys.length, ...keys, now, ...ops));
  }
}
