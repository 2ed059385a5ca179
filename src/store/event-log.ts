import { randomBytes } from "node:crypto";
import type { LoggedEvent, RevocationEvent } from "./types.js";

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

/** A sequence every log writes: digits (memory, SQLite) or `ms-n` (a Redis stream id). */
const SEQ = /^\d{1,20}(?:-\d{1,20})?$/;

function compareDigits(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, "");
  const y = b.replace(/^0+(?=\d)/, "");
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Orders two sequences of one log (`12` < `13`; `1700-0` < `1700-1` < `1701-0`). */
export function compareSeq(a: string, b: string): number {
  const pa = a.split("-");
  const pb = b.split("-");
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const c = compareDigits(pa[i] ?? "0", pb[i] ?? "0");
    if (c !== 0) return Math.sign(c);
  }
  return 0;
}

/**
 * Orders two event ids of one log: negative when `a` was appended before `b`. Undefined
 * when they cannot be compared (malformed, or from different epochs).
 */
export function compareEventIds(a: string, b: string): number | undefined {
  const pa = parseEventId(a);
  const pb = parseEventId(b);
  if (pa === undefined || pb === undefined || pa.epoch !== pb.epoch) return undefined;
  if (!SEQ.test(pa.seq) || !SEQ.test(pb.seq)) return undefined;
  return compareSeq(pa.seq, pb.seq);
}

export function isLive(event: RevocationEvent, nowMs: number): boolean {
  return event.exp * 1000 > nowMs;
}

/**
 * How long an event may be kept by default, whatever its `exp`: the longest access-token
 * lifetime Tessera allows (--access-token-max-ttl ≤ 1 day), the denylist's 60 s grace and
 * a 5-minute margin. A server passes the value derived from its own configuration
 * (src/revocations/retention.ts).
 */
export const DEFAULT_EVENT_RETENTION_MS = (24 * 3600 + 60 + 300) * 1000;
/** Events read at a time by `snapshot()` and `after()`; the event loop runs between pages. */
export const DEFAULT_EVENT_PAGE_SIZE = 1000;

export interface EventLogOptions {
  /** No event is kept longer than this after it was appended (ms), whatever its `exp`. */
  eventRetentionMs?: number;
  /** Events read per page by `snapshot()` and `after()`. */
  eventPageSize?: number;
  /** Redis: how often each process checks that Redis still holds its data (ms). Default 1000. */
  lossCheckIntervalMs?: number;
}

/** The options with their defaults, checked (RangeError for a value that is not a positive whole number). */
export function eventLogSettings(o: EventLogOptions = {}): {
  retentionMs: number;
  pageSize: number;
} {
  const retentionMs = o.eventRetentionMs ?? DEFAULT_EVENT_RETENTION_MS;
  const pageSize = o.eventPageSize ?? DEFAULT_EVENT_PAGE_SIZE;
  if (!Number.isSafeInteger(retentionMs) || retentionMs <= 0) {
    throw new RangeError("eventRetentionMs must be a positive whole number of milliseconds");
  }
  if (!Number.isSafeInteger(pageSize) || pageSize <= 0) {
    throw new RangeError("eventPageSize must be a positive whole number");
  }
  return { retentionMs, pageSize };
}

/** Lets the event loop run (I/O, timers, other requests) between two pages of a read. */
export function nextPage(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
