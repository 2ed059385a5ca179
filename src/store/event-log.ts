import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import type { EventLog, LoggedEvent, RevocationEvent } from "./types.js";

/** A fresh log epoch: event ids from another epoch are unknown (a reset log). */
export function newEpoch(): string {
  return randomBytes(6).toString("base64url");
}

/** Splits `<epoch>.<seq>`; undefined when malformed. */
export function parseEventId(id: string): { epoch: string; seq: string } | undefined {
  const dot = id.indexOf(".");
  if (dot <= 0 || dot === id.length - 1 || id.length > 100) return undefined;
  return { epoch: id.slice(0, dot), seq: id.slice(dot + 1) };
}

export function isLive(event: RevocationEvent, nowMs: number): boolean {
  return event.exp * 1000 > nowMs;
}

/** Fan-out to local listeners. */
export class Listeners {
  private readonly set = new Set<(e: LoggedEvent) => void>();
  add(listener: (e: LoggedEvent) => void): () => void {
    this.set.add(listener);
    return () => this.set.delete(listener);
  }
  get size(): number {
    return this.set.size;
  }
  emit(e: LoggedEvent): void {
    for (const l of this.set) {
      try {
        l(e);
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}

/** In-process log (tests, single process). */
export class MemoryEventLog implements EventLog {
  private readonly epoch = newEpoch();
  private seq = 0;
  private events: Array<{ seq: number; event: RevocationEvent }> = [];
  private readonly listeners = new Listeners();

  constructor(private readonly clock: Clock) {}

  async append(event: RevocationEvent): Promise<string> {
    const now = this.clock.now();
    this.events = this.events.filter((e) => isLive(e.event, now));
    const seq = ++this.seq;
    this.events.push({ seq, event: structuredClone(event) });
    const id = `${this.epoch}.${seq}`;
    this.listeners.emit({ id, event: structuredClone(event) });
    return id;
  }

  async after(id: string): Promise<LoggedEvent[] | undefined> {
    const parsed = parseEventId(id);
    if (parsed === undefined || parsed.epoch !== this.epoch || !/^\d+$/.test(parsed.seq))
      return undefined;
    const from = Number(parsed.seq);
    const now = this.clock.now();
    return this.events
      .filter((e) => e.seq > from && isLive(e.event, now))
      .map((e) => ({ id: `${this.epoch}.${e.seq}`, event: structuredClone(e.event) }));
  }

  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    const now = this.clock.now();
    return {
      lastId: `${this.epoch}.${this.seq}`,
      events: this.events
        .filter((e) => isLive(e.event, now))
        .map((e) => ({ id: `${this.epoch}.${e.seq}`, event: structuredClone(e.event) })),
    };
  }

  watch(listener: (e: LoggedEvent) => void): () => void {
    return this.listeners.add(listener);
  }
}
