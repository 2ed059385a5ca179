/**
 * A streaming parser for server-sent events, per the WHATWG HTML standard
 * ("Interpreting an event stream", §9.2.6):
 *
 * - the stream is UTF-8 (decoded incrementally: a character split across chunks is
 *   fine); one leading BOM is dropped;
 * - lines end with CRLF, LF or CR (a CR at the end of one chunk and an LF at the start of
 *   the next are one line end);
 * - a line starting with ":" is a comment; `field:value` (one space after the colon
 *   dropped), or a bare `field` with an empty value; unknown fields are ignored;
 * - `data` lines accumulate (joined by LF), `event` sets the type (default "message"),
 *   `id` sets the last event id unless it contains U+0000, `retry` (ASCII digits only)
 *   sets the reconnection time;
 * - a blank line dispatches: the last event id is updated even when there is no data;
 *   an event without data is not dispatched; an unfinished event at the end of the
 *   stream is discarded.
 *
 * Only the new chunk is scanned for line ends, so a long event (a snapshot of 100,000
 * revocations on one `data:` line) arriving in many chunks costs linear time. An event
 * larger than `maxEventChars` throws: the caller drops the connection.
 */

export interface SseHandlers {
  /** A dispatched event. `id` is the last event id as of this event ("" if none yet). */
  event(type: string, data: string, id: string): void;
  /** A blank line without data that still set the last event id. */
  id?(id: string): void;
  /** The server's `retry:` reconnection time, ms. */
  retry?(ms: number): void;
}

const LF = 0x0a;
const CR = 0x0d;

export class SseTooLarge extends Error {
  constructor() {
    super("server-sent event is too large");
    this.name = "SseTooLarge";
  }
}

export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private started = false;
  /** The current line, when a chunk ended in the middle of it. */
  private partial = "";
  /** The previous chunk ended with CR: an LF starting the next one belongs to it. */
  private afterCR = false;
  private data = "";
  private hasData = false;
  private type = "";
  private idBuffer: string;
  /** The id of the event being built changed (for id-only blocks). */
  private idSet = false;

  constructor(
    private readonly handlers: SseHandlers,
    /** The last event id known before this stream (kept by events that carry none). */
    lastEventId = "",
    private readonly maxEventChars = 64 * 1024 * 1024,
  ) {
    this.idBuffer = lastEventId;
  }

  /** The last event id seen so far (including one not yet dispatched). */
  get lastEventId(): string {
    return this.idBuffer;
  }

  /** Feeds bytes (or already decoded text). Handlers run synchronously; their throws propagate. */
  push(chunk: Uint8Array | string): void {
    let text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started) {
      if (text.length === 0) return;
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    let i = 0;
    const n = text.length;
    if (this.afterCR) {
      this.afterCR = false;
      if (n > 0 && text.charCodeAt(0) === LF) i = 1;
    }
    // Next LF and CR positions, recomputed only once passed (no rescanning per line).
    let nextLF = -2;
    let nextCR = -2;
    while (i < n) {
      if (nextLF !== -1 && nextLF < i) nextLF = text.indexOf("\n", i);
      if (nextCR !== -1 && nextCR < i) nextCR = text.indexOf("\r", i);
      let end: number;
      if (nextLF === -1) end = nextCR;
      else if (nextCR === -1) end = nextLF;
      else end = Math.min(nextLF, nextCR);
      if (end === -1) {
        this.partial += text.slice(i);
        if (this.partial.length + this.data.length > this.maxEventChars) throw new SseTooLarge();
        return;
      }
      let line = text.slice(i, end);
      if (this.partial !== "") {
        line = this.partial + line;
        this.partial = "";
      }
      if (text.charCodeAt(end) === CR) {
        if (end + 1 === n) {
          this.afterCR = true;
          i = n;
        } else {
          i = text.charCodeAt(end + 1) === LF ? end + 2 : end + 1;
        }
      } else {
        i = end + 1;
      }
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line.length === 0) {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 0x3a /* : */) return; // comment
    const colon = line.indexOf(":");
    let field: string;
    let value: string;
    if (colon === -1) {
      field = line;
      value = "";
    } else {
      field = line.slice(0, colon);
      value = line.slice(colon + (line.charCodeAt(colon + 1) === 0x20 ? 2 : 1));
    }
    switch (field) {
      case "event":
        this.type = value;
        break;
      case "data":
        if (this.hasData) this.data += `\n${value}`;
        else {
          this.data = value;
          this.hasData = true;
        }
        if (this.data.length > this.maxEventChars) throw new SseTooLarge();
        break;
      case "id":
        if (!value.includes("\u0000")) {
          this.idBuffer = value;
          this.idSet = true;
        }
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.handlers.retry?.(Number(value));
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(): void {
    const id = this.idBuffer;
    const idSet = this.idSet;
    this.idSet = false;
    if (!this.hasData) {
      this.type = "";
      if (idSet) this.handlers.id?.(id);
      return;
    }
    const type = this.type === "" ? "message" : this.type;
    const data = this.data;
    this.data = "";
    this.hasData = false;
    this.type = "";
    this.handlers.event(type, data, id);
  }
}
