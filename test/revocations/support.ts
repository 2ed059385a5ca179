/** Helpers for the revocation-feed tests: a sink that parses what a stream writes, a counting log. */
import type { FeedSink } from "../../src/revocations/streams.js";
import type { EventLog, LoggedEvent, RevocationEvent } from "../../src/store/types.js";

export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

/** Parses SSE text (Tessera's framing: one `data:` line per event). */
export function parseSse(text: string): { retry?: number; events: SseEvent[] } {
  const out: { retry?: number; events: SseEvent[] } = { events: [] };
  for (const block of text.split("\n\n")) {
    if (block === "") continue;
    const e: Partial<SseEvent> = {};
    for (const line of block.split("\n")) {
      if (line.startsWith("retry: ")) out.retry = Number(line.slice(7));
      else if (line.startsWith("id: ")) e.id = line.slice(4);
      else if (line.startsWith("event: ")) e.event = line.slice(7);
      else if (line.startsWith("data: ")) e.data = JSON.parse(line.slice(6));
    }
    if (e.event !== undefined) out.events.push(e as SseEvent);
  }
  return out;
}

/** A sink that keeps everything written, as text. */
export class TextSink implements FeedSink {
  private chunks: string[] = [];
  ended = false;
  write(chunk: string | Buffer): void {
    this.chunks.push(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
  }
  end(): void {
    this.ended = true;
  }
  get text(): string {
    return this.chunks.join("");
  }
  get events(): SseEvent[] {
    return parseSse(this.text).events;
  }
  /** The ids of the `revoke` events, in order. */
  get revoked(): string[] {
    return this.events.filter((e) => e.event === "revoke").map((e) => e.id as string);
  }
}

/**
 * A log that counts its reads and can hold a snapshot after it was read (`hold()`), so a
 * test can write or connect while the read is "in flight".
 */
export class CountingLog implements EventLog {
  snapshots = 0;
  afters = 0;
  private gate: Promise<void> | undefined;
  private open: (() => void) | undefined;
  /** Resolves when a held snapshot has been read and is waiting. */
  reading: Promise<void> = Promise.resolve();
  private signalRead: () => void = () => {};
  failNext = false;

  constructor(readonly inner: EventLog) {}

  hold(): void {
    this.gate = new Promise((r) => {
      this.open = r;
    });
    this.reading = new Promise((r) => {
      this.signalRead = r;
    });
  }
  release(): void {
    this.open?.();
    this.gate = undefined;
  }

  append(event: RevocationEvent): Promise<string> {
    return this.inner.append(event);
  }
  async after(id: string): Promise<LoggedEvent[] | undefined> {
    this.afters++;
    return this.inner.after(id);
  }
  async snapshot(): Promise<{ lastId: string; events: LoggedEvent[] }> {
    this.snapshots++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("store down");
    }
    const snap = await this.inner.snapshot();
    this.signalRead();
    await this.gate;
    return snap;
  }
  watch(listener: (e: LoggedEvent) => void): () => void {
    return this.inner.watch(listener);
  }
}

/**
 * Lets the live events the log delivered so far reach the streams: they are handed out in
 * a batch just after the turn of the event loop that delivered them (src/revocations/live.ts).
 */
export const delivered = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export const jwt = (jti: string, exp: number): RevocationEvent => ({
  type: "jwt",
  jti,
  iss: "https://issuer.example",
  exp,
});
