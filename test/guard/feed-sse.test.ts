/**
 * The feed's SSE framing, per the WHATWG "Interpreting an event stream" algorithm, fed in
 * every way a network can cut it.
 */
import { describe, expect, it } from "vitest";
import { SseParser, SseTooLarge } from "../../src/guard/sse.js";

interface Seen {
  events: [type: string, data: string, id: string][];
  ids: string[];
  retries: number[];
}

function parser(lastEventId = "", max?: number): { p: SseParser; seen: Seen } {
  const seen: Seen = { events: [], ids: [], retries: [] };
  const p = new SseParser(
    {
      event: (type, data, id) => seen.events.push([type, data, id]),
      id: (id) => seen.ids.push(id),
      retry: (ms) => seen.retries.push(ms),
    },
    lastEventId,
    max,
  );
  return { p, seen };
}

/** Feeds `text` as UTF-8 in every possible two-way split, and byte by byte. */
function allSplits(text: string): Seen[] {
  const bytes = Buffer.from(text, "utf8");
  const out: Seen[] = [];
  for (let cut = 0; cut <= bytes.length; cut++) {
    const { p, seen } = parser();
    p.push(bytes.subarray(0, cut));
    p.push(bytes.subarray(cut));
    out.push(seen);
  }
  const { p, seen } = parser();
  for (const b of bytes) p.push(Uint8Array.of(b));
  out.push(seen);
  return out;
}

describe("SSE framing", () => {
  it("id, event, multi-line data; a blank line dispatches", () => {
    const { p, seen } = parser();
    p.push('id: 7f3a.121\nevent: revoke\ndata: {"a":\ndata: 1}\n\n');
    expect(seen.events).toEqual([["revoke", '{"a":\n1}', "7f3a.121"]]);
  });

  it("LF, CRLF and CR line ends, also split between chunks", () => {
    for (const nl of ["\n", "\r\n", "\r"]) {
      const text = `id: 1${nl}event: synced${nl}data: {"at":5}${nl}${nl}data: x${nl}${nl}`;
      for (const seen of allSplits(text)) {
        expect(seen.events).toEqual([
          ["synced", '{"at":5}', "1"],
          ["message", "x", "1"],
        ]);
      }
    }
  });

  it("a CR at the end of one chunk and an LF at the start of the next are one line end", () => {
    const { p, seen } = parser();
    p.push("data: a\r");
    p.push("\n\r");
    p.push("\n");
    expect(seen.events).toEqual([["message", "a", ""]]);
  });

  it("UTF-8 split inside a character; one leading BOM dropped", () => {
    for (const seen of allSplits('\uFEFFdata: {"sub":"Zoë ☃ 𝄞"}\n\n')) {
      expect(seen.events).toEqual([["message", '{"sub":"Zoë ☃ 𝄞"}', ""]]);
    }
    const { p, seen } = parser();
    p.push("\uFEFF\uFEFFdata: x\n\n"); // only the first is a BOM: the second starts a field name
    expect(seen.events).toEqual([]);
  });

  it("comments, unknown fields, fields without a colon, one space stripped", () => {
    const { p, seen } = parser();
    p.push(": heartbeat comment\nfoo: bar\nevent:revoke\ndata:  two spaces\ndata\n\n");
    expect(seen.events).toEqual([["revoke", " two spaces\n", ""]]);
  });

  it("data: with no value still dispatches an empty event; no data at all does not", () => {
    const { p, seen } = parser();
    p.push("event: heartbeat\n\ndata:\n\n");
    expect(seen.events).toEqual([["message", "", ""]]);
  });

  it("the event type does not leak into the next event", () => {
    const { p, seen } = parser();
    p.push("event: revoke\ndata: 1\n\ndata: 2\n\nevent: x\n\ndata: 3\n\n");
    expect(seen.events.map((e) => e[0])).toEqual(["revoke", "message", "message"]);
  });

  it("the last event id persists; an id-only block updates it; NUL ids are ignored", () => {
    const { p, seen } = parser("7f3a.1");
    p.push("data: a\n\nid: 7f3a.2\n\ndata: b\n\nid: bad\u0000id\ndata: c\n\nid\ndata: d\n\n");
    expect(seen.events).toEqual([
      ["message", "a", "7f3a.1"],
      ["message", "b", "7f3a.2"],
      ["message", "c", "7f3a.2"],
      ["message", "d", ""],
    ]);
    expect(seen.ids).toEqual(["7f3a.2"]);
  });

  it("retry: ASCII digits only", () => {
    const { p, seen } = parser();
    p.push("retry: 2000\n\nretry: 1e3\nretry: -5\nretry: 12a\nretry:300\n");
    expect(seen.retries).toEqual([2000, 300]);
  });

  it("an unfinished event at the end of the stream is not dispatched", () => {
    const { p, seen } = parser();
    p.push("data: complete\n\ndata: cut off\n");
    expect(seen.events).toEqual([["message", "complete", ""]]);
  });

  it("a long data line in many chunks (a snapshot) is parsed in linear time", () => {
    const { p, seen } = parser();
    const big = "x".repeat(8 * 1024 * 1024);
    p.push("event: snapshot\ndata: ");
    for (let i = 0; i < big.length; i += 16_384) p.push(big.slice(i, i + 16_384));
    p.push("\n\n");
    expect(seen.events).toHaveLength(1);
    expect(seen.events[0]?.[1].length).toBe(big.length);
  });

  it("an event larger than the limit throws (the feed then drops the connection)", () => {
    const { p } = parser("", 1000);
    expect(() => p.push(`data: ${"x".repeat(1001)}`)).toThrow(SseTooLarge);
    const q = parser("", 1000).p;
    expect(() => {
      for (let i = 0; i < 20; i++) q.push(`data: ${"y".repeat(60)}\n`);
    }).toThrow(SseTooLarge);
  });
});
