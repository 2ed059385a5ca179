import type { Clock } from "../../clock.js";
import type { CounterState, Counters } from "../types.js";
import { assertTtl } from "../validate.js";
import { guard } from "./errors.js";
import type { Client } from "./scripts.js";

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
}
