/**
 * Issue 14, fuzzing the revocation feed's parser: arbitrary bytes, and valid streams with
 * one part changed, cut into arbitrary chunks, through the SSE parser and the protocol
 * (snapshot, revoke, synced, heartbeat) as the guard's feed applies them. The only throws
 * allowed are the typed refusals, FeedProtocolError and SseTooLarge (the feed then drops
 * the connection), and a refused snapshot adds nothing.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyRevoke,
  applySnapshot,
  FeedProtocolError,
  readAt,
} from "../../src/guard/feed-protocol.js";
import { RevocationStore } from "../../src/guard/revocations.js";
import { SseParser, SseTooLarge } from "../../src/guard/sse.js";
import { fuzzTimeout, runProperty } from "./support/budget.js";

const ISSUER = "https://auth.example.test";
const NOW_MS = Date.UTC(2026, 0, 1);
const NOW = NOW_MS / 1000;
const RUNS = 1000;

const hash = (s: string) => createHash("sha256").update(s).digest("base64url");

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    null,
    [],
    {},
    "",
    0,
    -1,
    1e308,
    Number.NaN,
    "__proto__",
    [[]],
    [[null, null, null, null]],
  ),
);

/** Valid event data, by type. */
const VALID: Record<string, () => Record<string, unknown>> = {
  snapshot: () => ({
    jwt: [["j1", ISSUER, NOW + 600]],
    opaque: [[hash("t1"), NOW + 600]],
    subject: [["u1", ISSUER, NOW, NOW + 600]],
  }),
  revoke: () => ({ type: "jwt", jti: "j2", iss: ISSUER, exp: NOW + 600 }),
  synced: () => ({ at: NOW_MS }),
  heartbeat: () => ({ at: NOW_MS }),
};

/** One event block: valid, or with a member changed, or raw text as its data. */
const event = fc
  .record({
    type: fc.oneof(
      fc.constantFrom("snapshot", "revoke", "synced", "heartbeat"),
      fc.string({ maxLength: 8 }),
    ),
    change: fc.option(
      fc.record({
        member: fc.constantFrom(
          "jwt",
          "opaque",
          "subject",
          "type",
          "jti",
          "iss",
          "exp",
          "hash",
          "sub",
          "before",
          "at",
          "x",
        ),
        value: fc.option(jsonish, { nil: undefined }),
      }),
      { nil: undefined },
    ),
    raw: fc.option(fc.string({ unit: "binary", maxLength: 60 }), { nil: undefined, freq: 4 }),
    id: fc.option(fc.string({ maxLength: 10 }), { nil: undefined }),
    retry: fc.option(fc.string({ maxLength: 6 }), { nil: undefined }),
    eol: fc.constantFrom("\n", "\r\n", "\r"),
  })
  .map(({ type, change, raw, id, retry, eol }) => {
    let data: string;
    if (raw !== undefined) data = raw;
    else {
      const make = Object.hasOwn(VALID, type) ? VALID[type] : undefined;
      const o: Record<string, unknown> = make?.() ?? {};
      if (change !== undefined) {
        if (change.value === undefined) delete o[change.member];
        else o[change.member] = change.value;
      }
      data = JSON.stringify(o);
    }
    const lines = [`event: ${type}`, ...data.split(/\r\n|\r|\n/).map((l) => `data: ${l}`)];
    if (id !== undefined) lines.push(`id: ${id}`);
    if (retry !== undefined) lines.push(`retry: ${retry}`);
    return `${lines.join(eol)}${eol}${eol}`;
  });

/** A stream: events and arbitrary bytes, as bytes. */
const stream = fc
  .array(
    fc.oneof(
      { weight: 4, arbitrary: event.map((e) => Buffer.from(e, "utf8")) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(
          Buffer.from([0xef, 0xbb, 0xbf]),
          Buffer.from(": comment\n"),
          Buffer.from([0xff, 0xfe, 0xc3]),
        ),
      },
    ),
    { maxLength: 8 },
  )
  .map((parts) => Buffer.concat(parts));

/** `bytes` cut at the given points. */
function chunks(bytes: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    out.push(bytes.subarray(from, c));
    from = c;
  }
  out.push(bytes.subarray(from));
  return out;
}

const counts = (s: RevocationStore) => JSON.stringify(s.counts());

/** Feeds the chunks as the guard's feed does; returns the refusal, if any. */
function feed(parts: Buffer[], maxEventChars?: number): unknown {
  const store = new RevocationStore(ISSUER, 5_000);
  const parser = new SseParser(
    {
      event(type, data) {
        switch (type) {
          case "snapshot": {
            const before = counts(store);
            try {
              applySnapshot(store, data, NOW_MS);
            } catch (err) {
              // A refused snapshot adds nothing.
              expect(counts(store)).toBe(before);
              throw err;
            }
            return;
          }
          case "revoke":
            applyRevoke(store, data, NOW_MS);
            return;
          case "synced":
          case "heartbeat":
            readAt(data, type);
            return;
          default:
            return;
        }
      },
      retry: (ms) => expect(Number.isSafeInteger(ms) && ms >= 0).toBe(true),
    },
    "",
    maxEventChars,
  );
  try {
    for (const p of parts) parser.push(p);
    return undefined;
  } catch (err) {
    return err;
  }
}

describe("revocation feed parser fuzz", () => {
  it("valid streams apply (the generators start from real events)", () => {
    const text = ["snapshot", "revoke", "synced"]
      .map((t) => `event: ${t}\ndata: ${JSON.stringify(VALID[t]?.())}\n\n`)
      .join("");
    expect(feed([Buffer.from(text)])).toBeUndefined();
  });

  it(
    "arbitrary and mutated streams, cut anywhere: applied, or a typed refusal",
    async () => {
      await runProperty(
        "feed parser",
        fc.record({
          bytes: stream,
          cuts: fc.array(fc.nat(), { maxLength: 6 }),
          small: fc.boolean(),
        }),
        async ({ bytes, cuts, small }) => {
          const err = feed(chunks(bytes, cuts), small ? 64 : undefined);
          if (err === undefined) return;
          const typed = err instanceof FeedProtocolError || err instanceof SseTooLarge;
          expect(typed, `not a typed refusal: ${String(err)}`).toBe(true);
        },
        RUNS,
      );
    },
    fuzzTimeout(60_000),
  );
});
