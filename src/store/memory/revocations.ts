import type { Clock } from "../../clock.js";
import {
  type EventLogOptions,
  eventLogSettings,
  Listeners,
  newEpoch,
  nextPage,
  parseEventId,
} from "../event-log.js";
import type { EventLog, LoggedEvent, RevocationEvent } from "../types.js";

interface MemoryEntry {
  seq: number;
  event: RevocationEvent;
  /** ms: the event's exp, or its append time + the retention if that comes first. */
  keepUntil: number;
}

/** In-process log (tests, single process). */
export class MemoryEventLog implements EventLog {
  private readonly epoch = newEpoch();
  private seq = 0;
  private events: MemoryEntry[] = [];
  private readonly listeners = new Listeners();
  private readonly retentionMs: number;
  private readonly pageSize: number;

  constructor(
    private readonly clock: Clock,
    options: EventLogOptions = {},
  ) {
    ({ retentionMs: this.retentionMs, pageSize: this.pageSize } = eventLogSettings(options));
  }

  async append(event: RevocationEvent): Promise<string> {
    const now = this.clock.now();
    this.events = this.events.filter((e) => e.keepUntil > now);
    const seq = ++this.seq;
    const keepUntil = Math.min(event.exp * 1000, now + this.retentionMs);
    this.events.push({ seq, event: structuredClone(event), keepUntil });
    const id = `${this.epoch}.${seq}`;
    this.listeners.emit({ id, event: structuredClone(event) });
    return id;
  }

  async after(id: string): Promise<LoggedEvent[] | undefined> {
    const parsed = parseEventId(id);
    if (parsed === undefined || parsed.epoch !== this.epoch || !/^\d+$/.test(parsed.seq))
      return undefined;
    const from = Number(parsed.seq);
    if (from > this.seq) return undefined; // never issued
    return this.read((e) => e.seq > from);
  }

  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    const lastId = `${this.epoch}.${this.seq}`;
    return { lastId, events: await this.read(() => true) };
  }

  /** The live entries that `wanted` selects, as of the call, a page at a time. */
  private async read(wanted: (e: MemoryEntry) => boolean): Promise<LoggedEvent[]> {
    const entries = this.events;
    const now = this.clock.now();
    const out: LoggedEvent[] = [];
    for (let i = 0; i < entries.length; i += this.pageSize) {
      if (i > 0) await nextPage();
      for (const e of entries.slice(i, i + this.pageSize)) {
        if (e.keepUntil > now && wanted(e)) {
          out.push({ id: `${this.epoch}.${e.seq}`, event: structuredClone(e.event) });
        }
      }
    }
    return out;
  }

  watch(listener: (e: LoggedEvent) => void): () => void {
    return this.listeners.add(listener);
  }
}
