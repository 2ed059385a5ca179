/**
 * The Revocations service: the one writer of the revocation log. Each event's shape and
 * expiry, with a frozen clock; and no other file of src/ appends to the log.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { REVOCATION_GRACE_SECONDS, Revocations } from "../../src/revocations/log.js";
import { MemoryKeptRevocations } from "../../src/store/memory/kept.js";
import type { EventLog, RevocationEvent } from "../../src/store/types.js";

const ISSUER = "https://auth.example";

/** A log that records what is appended (reads are not this test's concern). */
class RecordingLog implements EventLog {
  readonly appended: RevocationEvent[] = [];
  async append(event: RevocationEvent): Promise<string> {
    this.appended.push(event);
    return `0.${this.appended.length}`;
  }
  async after(): Promise<undefined> {
    return undefined;
  }
  async snapshot(): Promise<{ lastId: string; events: [] }> {
    return { lastId: "0.0", events: [] };
  }
  watch(): () => void {
    return () => {};
  }
}

function setup(maxAccessTtl = 900) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12, 0, 0, 250));
  const log = new RecordingLog();
  const revocations = new Revocations(log, clock, { issuer: ISSUER, maxAccessTtl });
  const nowS = Math.floor(clock.now() / 1000);
  return { clock, log, revocations, nowS };
}

describe("Revocations", () => {
  it("keeps JWT and subject revocations durably before appending them; not the others", async () => {
    const { log, clock, nowS } = setup();
    const kept = new MemoryKeptRevocations();
    const order: string[] = [];
    const keep = kept.keep.bind(kept);
    kept.keep = async (e) => {
      order.push(`keep ${e.type}`);
      await keep(e);
    };
    const append = log.append.bind(log);
    log.append = async (e) => {
      order.push(`append ${e.type}`);
      return append(e);
    };
    const revocations = new Revocations(log, clock, { issuer: ISSUER, maxAccessTtl: 900, kept });
    await revocations.jwt({ jti: "j1", iss: ISSUER, exp: nowS + 300 });
    await revocations.subject("u1", clock.now());
    await revocations.opaque("h1", nowS + 300);
    await revocations.client("c1");
    expect(order).toEqual([
      "keep jwt",
      "append jwt",
      "keep subject",
      "append subject",
      "append opaque",
      "append client",
    ]);
    const rows = (await kept.page(clock.now(), "", 10)).map((r) => r.event);
    expect(rows).toEqual(expect.arrayContaining(log.appended.slice(0, 2)));
    expect(rows).toHaveLength(2);
    // A keep that fails appends nothing: the revocation answers 503 and is repeated.
    kept.keep = async () => {
      throw new Error("down");
    };
    await expect(revocations.jwt({ jti: "j2", iss: ISSUER, exp: nowS + 300 })).rejects.toThrow();
    expect(log.appended).toHaveLength(4);
  });

  it("a JWT: by (jti, iss), kept a grace after the token's exp", async () => {
    const { log, revocations, nowS } = setup();
    await revocations.jwt({ jti: "j1", iss: "https://other", exp: nowS + 300 });
    expect(REVOCATION_GRACE_SECONDS).toBe(60);
    expect(log.appended).toEqual([
      { type: "jwt", jti: "j1", iss: "https://other", exp: nowS + 300 + 60 },
    ]);
  });

  it("an opaque token: by its hash until its exp; an expired one needs no event", async () => {
    const { log, revocations, nowS, clock } = setup();
    await revocations.opaque("h1", nowS + 1);
    expect(log.appended).toEqual([{ type: "opaque", hash: "h1", exp: nowS + 1 }]);
    clock.set((nowS + 1) * 1000);
    await revocations.opaque("h2", nowS + 1);
    await revocations.opaque("h3", nowS - 10);
    expect(log.appended).toHaveLength(1);
  });

  it("a subject cutoff: before rounded up to the second, kept max ttl + grace past it", async () => {
    const { log, revocations, clock, nowS } = setup(3600);
    await revocations.subject("user-1", clock.now());
    await revocations.subject("svc", nowS * 1000);
    expect(log.appended).toEqual([
      { type: "subject", sub: "user-1", iss: ISSUER, before: nowS + 1, exp: nowS + 1 + 3660 },
      { type: "subject", sub: "svc", iss: ISSUER, before: nowS, exp: nowS + 3660 },
    ]);
  });

  it("a client event: for live streams only, a minute from now", async () => {
    const { log, revocations, nowS } = setup();
    await revocations.client("svc");
    expect(log.appended).toEqual([{ type: "client", clientId: "svc", exp: nowS + 1 + 60 }]);
  });
});

describe("the revocation log's writers", () => {
  const SRC = resolve(import.meta.dirname, "../../src");
  const files = readdirSync(SRC, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => relative(SRC, join(SRC, f)));

  it("only src/revocations/log.ts appends to it (the stores implement it)", () => {
    const writers = files.filter((f) => {
      if (f.startsWith("store/") || f.startsWith("guard/")) return false;
      const text = readFileSync(join(SRC, f), "utf8");
      // An event literal handed to append, or an append on the store's log.
      return /\.append\(\s*\{\s*type:/.test(text) || /\brevocations\.append\(/.test(text);
    });
    expect(writers).toEqual(["revocations/log.ts"]);
  });

  it("no other file of src/ outside the stores holds the store's log to write", () => {
    const holders = files.filter((f) => {
      if (f.startsWith("store/") || f.startsWith("guard/")) return false;
      return /\.ephemeral\.revocations\b|\bstore\.revocations\b/.test(
        readFileSync(join(SRC, f), "utf8"),
      );
    });
    // The composition of the token services (called by Tessera) hands the log to the
    // writer (Revocations) and to the feed's readers; the caches' only watch it.
    expect(holders).toEqual(["compose/caches.ts", "compose/tokens.ts"]);
  });
});
