/**
 * The one contract suite of the storage layer (see src/store/types.ts). Every backend runs
 * it: `storeContract` for an EphemeralStore, `durableContract` for a DurableStore's users.
 *
 * Time is a ManualClock handed to `make`: tests move it instead of sleeping, so expiry is
 * checked exactly at its boundary. Values used here are plain JSON data, which is what
 * every backend must round-trip.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { TesseraError } from "../../src/errors.js";
import { compareEventIds, type EventLogOptions } from "../../src/store/event-log.js";
import type {
  ClientRecord,
  Collection,
  CollectionName,
  DurableStore,
  EphemeralStore,
  KeptRevocation,
  KeyRecord,
  RefreshFamily,
  RefreshTokenRecord,
  RevocationEvent,
  StoredRecord,
  UserRecord,
} from "../../src/store/types.js";
import { auditLogContract } from "./audit-contract.js";

export interface Made<S> {
  store: S;
  /** Closes the store and removes whatever the test left behind. */
  close(): Promise<void>;
}

interface Value {
  n: number;
  tags: string[];
  nested: { ok: boolean; note: string | null };
}

const value = (n: number): Value => ({ n, tags: ["a", `t${n}`], nested: { ok: true, note: null } });

/** A second collection name, to check that collections do not see each other. */
const OTHER = "test_other" as CollectionName;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

const BAD_TTLS = [0, -1, -MINUTE, Number.NaN, Number.POSITIVE_INFINITY, 1.5, 2 ** 53];

const byId = <R extends { id: string }>(rows: R[]): R[] =>
  [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

export function storeContract(
  name: string,
  make: (clock: ManualClock, log?: EventLogOptions) => Promise<Made<EphemeralStore>>,
): void {
  describe(`EphemeralStore contract: ${name}`, () => {
    let clock: ManualClock;
    let made: Made<EphemeralStore>;
    let store: EphemeralStore;
    let sessions: Collection<Value>;
    let others: Collection<Value>;

    beforeEach(async () => {
      clock = new ManualClock();
      made = await make(clock);
      store = made.store;
      sessions = store.collection<Value>("session");
      others = store.collection<Value>(OTHER);
    });

    afterEach(async () => {
      await made.close();
    });

    it("answers ping", async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    describe("revocation log", () => {
      const exp = () => Math.floor(clock.now() / 1000) + 600;
      const jwt = (jti: string, e = exp()): RevocationEvent => ({
        type: "jwt",
        jti,
        iss: "https://i",
        exp: e,
      });

      it("appends in order; after(id) returns what came later; snapshot holds every live event", async () => {
        const empty = await store.revocations.snapshot();
        expect(empty.events).toEqual([]);
        const a = await store.revocations.append(jwt("a"));
        const b = await store.revocations.append({ type: "opaque", hash: "h", exp: exp() });
        const c = await store.revocations.append({
          type: "subject",
          sub: "u1",
          iss: "https://i",
          before: 5,
          exp: exp(),
        });
        expect(new Set([a, b, c]).size).toBe(3);
        expect((await store.revocations.after(a))?.map((e) => e.id)).toEqual([b, c]);
        expect((await store.revocations.after(empty.lastId))?.map((e) => e.event)).toEqual([
          jwt("a"),
          { type: "opaque", hash: "h", exp: exp() },
          { type: "subject", sub: "u1", iss: "https://i", before: 5, exp: exp() },
        ]);
        expect(await store.revocations.after(c)).toEqual([]);
        const snap = await store.revocations.snapshot();
        expect(snap.lastId).toBe(c);
        expect(snap.events.map((e) => e.id)).toEqual([a, b, c]);
      });

      it("an id from another log, or malformed, is unknown (the caller sends a snapshot)", async () => {
        await store.revocations.append(jwt("a"));
        for (const id of ["zzzz.1", "nonsense", "", "x.", ".1", `${"a".repeat(200)}.1`]) {
          expect(await store.revocations.after(id), id).toBeUndefined();
        }
      });

      it("expired events leave the snapshot and the backlog", async () => {
        const first = await store.revocations.snapshot();
        await store.revocations.append(jwt("short", Math.floor(clock.now() / 1000) + 10));
        await store.revocations.append(jwt("long"));
        clock.advance(10_000);
        expect(
          (await store.revocations.snapshot()).events.map((e) => (e.event as { jti: string }).jti),
        ).toEqual(["long"]);
        expect(
          (await store.revocations.after(first.lastId))?.map(
            (e) => (e.event as { jti: string }).jti,
          ),
        ).toEqual(["long"]);
      });

      /** A second store of this backend with other log options, closed after `fn`. */
      async function withLog(log: EventLogOptions, fn: (s: EphemeralStore) => Promise<void>) {
        const other = await make(clock, log);
        try {
          await fn(other.store);
        } finally {
          await other.close();
        }
      }
      const jtis = (events: { event: RevocationEvent }[] | undefined) =>
        events?.map((e) => (e.event as { jti: string }).jti);

      it("ids increase in the order events were appended; an id ahead of the log is unknown", async () => {
        const ids: string[] = [];
        for (const j of ["a", "b", "c", "d"]) ids.push(await store.revocations.append(jwt(j)));
        for (let i = 1; i < ids.length; i++) {
          expect(compareEventIds(ids[i - 1] as string, ids[i] as string)).toBeLessThan(0);
        }
        expect(compareEventIds((await store.revocations.snapshot()).lastId, ids[3] as string)).toBe(
          0,
        );
        // The same epoch and shape, but a sequence this log never issued.
        const last = ids[3] as string;
        const dot = last.indexOf(".");
        const ahead = `${last.slice(0, dot + 1)}${last
          .slice(dot + 1)
          .replace(/^\d+/, (d) => String(BigInt(d) + 10_000_000n))}`;
        expect(compareEventIds(ahead, last)).toBeGreaterThan(0);
        expect(await store.revocations.after(ahead)).toBeUndefined();
      });

      it("no event outlives the retention after it was appended, whatever its exp", async () => {
        // Redis stamps stream ids with its own (real) clock: start from the real time.
        clock.set(Date.now());
        await withLog({ eventRetentionMs: 60_000 }, async (s) => {
          const first = await s.revocations.snapshot();
          await s.revocations.append(jwt("long", Math.floor(clock.now() / 1000) + 3600));
          clock.advance(50_000);
          expect(jtis((await s.revocations.snapshot()).events)).toEqual(["long"]);
          expect(jtis(await s.revocations.after(first.lastId))).toEqual(["long"]);
          clock.advance(20_000);
          expect((await s.revocations.snapshot()).events).toEqual([]);
          expect(await s.revocations.after(first.lastId)).toEqual([]);
        });
      });

      it("reads a page at a time, letting the event loop run between pages", async () => {
        await withLog({ eventPageSize: 2 }, async (s) => {
          const first = await s.revocations.snapshot();
          const ids: string[] = [];
          for (let i = 0; i < 7; i++) ids.push(await s.revocations.append(jwt(`j${i}`)));
          // Counts turns of the event loop while a read runs.
          const turns = async <T>(read: () => Promise<T>): Promise<[T, number]> => {
            let n = 0;
            let done = false;
            const turn = () => {
              if (done) return;
              n++;
              setImmediate(turn);
            };
            setImmediate(turn);
            const result = await read();
            done = true;
            return [result, n];
          };
          const [snap, snapTurns] = await turns(() => s.revocations.snapshot());
          expect(snap.events.map((e) => e.id)).toEqual(ids);
          expect(snap.lastId).toBe(ids[6]);
          // 7 events in pages of 2: the loop ran between the 4 pages.
          expect(snapTurns).toBeGreaterThanOrEqual(3);
          const [backlog, backlogTurns] = await turns(() => s.revocations.after(first.lastId));
          expect(backlog?.map((e) => e.id)).toEqual(ids);
          expect(backlogTurns).toBeGreaterThanOrEqual(3);
          expect((await s.revocations.after(ids[2] as string))?.map((e) => e.id)).toEqual(
            ids.slice(3),
          );
          expect(await s.revocations.after(ids[6] as string)).toEqual([]);
        });
      });

      it("an event appended during a paged snapshot is in it or after its lastId, once", async () => {
        await withLog({ eventPageSize: 2 }, async (s) => {
          const ids: string[] = [];
          for (let i = 0; i < 6; i++) ids.push(await s.revocations.append(jwt(`j${i}`)));
          const reading = s.revocations.snapshot();
          await new Promise((r) => setImmediate(r));
          ids.push(await s.revocations.append(jwt("during")));
          const snap = await reading;
          const rest = (await s.revocations.after(snap.lastId)) ?? [];
          expect([...snap.events, ...rest].map((e) => e.id)).toEqual(ids);
        });
      });

      it("no event falls between a watch and a read started after it", async () => {
        const seen: string[] = [];
        const stop = store.revocations.watch((e) => seen.push(e.id));
        try {
          const reading = store.revocations.snapshot();
          const id = await store.revocations.append(jwt("x"));
          const snap = await reading;
          const inSnapshot = snap.events.some((e) => e.id === id);
          for (let i = 0; i < 100 && !inSnapshot && !seen.includes(id); i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          expect(inSnapshot || seen.includes(id)).toBe(true);
        } finally {
          stop();
        }
      });

      it("watch delivers every new event once, with its id", async () => {
        const seen: string[] = [];
        const stop = store.revocations.watch((e) => seen.push(e.id));
        // A watcher may take a moment to attach (Redis: its own connection).
        await new Promise((r) => setTimeout(r, 100));
        const ids = [
          await store.revocations.append(jwt("a")),
          await store.revocations.append(jwt("b")),
        ];
        for (let i = 0; i < 100 && seen.length < 2; i++)
          await new Promise((r) => setTimeout(r, 20));
        stop();
        expect(seen).toEqual(ids);
        await store.revocations.append(jwt("c"));
        await new Promise((r) => setTimeout(r, 50));
        expect(seen).toEqual(ids);
      });
    });

    describe("upsert and find", () => {
      it("round-trips value, expiry and user", async () => {
        const t0 = clock.now();
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        const rec = await sessions.find("id-1");
        expect(rec).toEqual({ value: value(1), expiresAt: t0 + MINUTE, userId: "alice" });
        expect(rec).not.toHaveProperty("consumedAt");
      });

      it("leaves userId absent when none is given", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        const rec = await sessions.find("id-1");
        expect(rec).toEqual({ value: value(1), expiresAt: clock.now() + MINUTE });
        expect(rec?.userId).toBeUndefined();
        expect(await sessions.listByUser("")).toEqual([]);
      });

      it("round-trips JSON edge values", async () => {
        const odd = {
          n: -0.5,
          tags: ["", "ünïcødé ✓", 'quote " and \\ backslash', "line\nbreak"],
          nested: { ok: false, note: null },
        };
        await sessions.upsert("odd", odd, { ttlMs: MINUTE });
        expect((await sessions.find("odd"))?.value).toEqual(odd);
      });

      it("keeps ids apart that differ only in case or look like key syntax", async () => {
        const ids = ["abc", "ABC", "a:b", "a:b:c", "*", "e3b0c44298fc1c149afbf4c8996fb924"];
        for (const [i, id] of ids.entries()) {
          await sessions.upsert(id, value(i), { ttlMs: MINUTE, userId: `u:${i}` });
        }
        for (const [i, id] of ids.entries()) {
          expect((await sessions.find(id))?.value.n).toBe(i);
          expect((await sessions.listByUser(`u:${i}`)).map((r) => r.id)).toEqual([id]);
        }
      });

      it("returns undefined for a missing id", async () => {
        expect(await sessions.find("nope")).toBeUndefined();
      });

      it("stores a copy: mutating the input afterwards changes nothing", async () => {
        const v = value(1);
        await sessions.upsert("id-1", v, { ttlMs: MINUTE });
        v.n = 99;
        v.tags.push("mutated");
        v.nested.ok = false;
        expect((await sessions.find("id-1"))?.value).toEqual(value(1));
      });

      it("returns copies: mutating a result changes nothing", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        const a = (await sessions.find("id-1")) as StoredRecord<Value>;
        a.value.tags.push("mutated");
        a.value.nested.ok = false;
        const c = (await sessions.consume("id-1")) as StoredRecord<Value>;
        c.value.n = 42;
        const [listed] = await sessions.listByUser("alice");
        listed?.record.value.tags.push("mutated");
        expect((await sessions.find("id-1"))?.value).toEqual(value(1));
      });

      it("overwrites value, expiry and user", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        clock.advance(10 * SECOND);
        await sessions.upsert("id-1", value(2), { ttlMs: HOUR, userId: "bob" });
        expect(await sessions.find("id-1")).toEqual({
          value: value(2),
          expiresAt: clock.now() + HOUR,
          userId: "bob",
        });
        expect(await sessions.listByUser("alice")).toEqual([]);
        expect((await sessions.listByUser("bob")).map((r) => r.id)).toEqual(["id-1"]);
        expect(await sessions.destroyByUser("alice")).toBe(0);
        expect(await sessions.find("id-1")).toBeDefined();
      });

      it("drops the user when overwritten without one", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.upsert("id-1", value(2), { ttlMs: MINUTE });
        const rec = await sessions.find("id-1");
        expect(rec?.value).toEqual(value(2));
        expect(rec?.userId).toBeUndefined();
        expect(await sessions.listByUser("alice")).toEqual([]);
        expect(await sessions.destroyByUser("alice")).toBe(0);
        expect(await sessions.find("id-1")).toBeDefined();
      });

      it("can shorten a record's lifetime", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: HOUR, userId: "alice" });
        await sessions.upsert("id-1", value(2), { ttlMs: SECOND, userId: "alice" });
        clock.advance(SECOND);
        expect(await sessions.find("id-1")).toBeUndefined();
        expect(await sessions.listByUser("alice")).toEqual([]);
      });
    });

    describe("TTL is mandatory", () => {
      for (const ttlMs of BAD_TTLS) {
        it(`rejects ttlMs = ${ttlMs} and stores nothing`, async () => {
          await expect(sessions.upsert("id-1", value(1), { ttlMs })).rejects.toThrow(RangeError);
          expect(await sessions.find("id-1")).toBeUndefined();
        });
      }

      it("rejects a missing ttlMs", async () => {
        const opts = {} as { ttlMs: number };
        await expect(sessions.upsert("id-1", value(1), opts)).rejects.toThrow(RangeError);
        expect(await sessions.find("id-1")).toBeUndefined();
      });

      it("rejects a bad ttlMs on update and leaves the record alone", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        for (const ttlMs of BAD_TTLS) {
          await expect(sessions.update("id-1", value(2), { ttlMs })).rejects.toThrow(RangeError);
        }
        expect(await sessions.find("id-1")).toEqual({
          value: value(1),
          expiresAt: clock.now() + MINUTE,
        });
      });

      it("does not overwrite an existing record with a bad ttlMs", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        await expect(sessions.upsert("id-1", value(2), { ttlMs: 0 })).rejects.toThrow(RangeError);
        expect((await sessions.find("id-1"))?.value).toEqual(value(1));
        expect(await sessions.listByUser("alice")).toHaveLength(1);
      });
    });

    describe("expiry (by the injected clock)", () => {
      it("a record lives until expiresAt, exclusive", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        clock.advance(MINUTE - 1);
        expect(await sessions.find("id-1")).toBeDefined();
        clock.advance(1);
        expect(await sessions.find("id-1")).toBeUndefined();
        expect(await sessions.listByUser("alice")).toEqual([]);
      });

      it("an expired record is absent to every method", async () => {
        await sessions.upsert("gone", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.upsert("kept", value(2), { ttlMs: HOUR, userId: "alice" });
        clock.advance(MINUTE);
        expect(await sessions.consume("gone")).toBeUndefined();
        expect(await sessions.update("gone", value(3), { ttlMs: HOUR })).toBe(false);
        expect(await sessions.find("gone")).toBeUndefined();
        expect((await sessions.listByUser("alice")).map((r) => r.id)).toEqual(["kept"]);
        expect(await sessions.destroy("gone")).toBe(false);
        expect(await sessions.destroyByUser("alice")).toBe(1);
      });

      it("destroy of a record that expired unnoticed returns false", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        clock.advance(MINUTE);
        expect(await sessions.destroy("id-1")).toBe(false);
      });

      it("destroyByUser counts only live records", async () => {
        await sessions.upsert("a", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.upsert("b", value(2), { ttlMs: HOUR, userId: "alice" });
        await sessions.upsert("c", value(3), { ttlMs: HOUR, userId: "alice" });
        clock.advance(MINUTE);
        expect(await sessions.destroyByUser("alice")).toBe(2);
        expect(await sessions.listByUser("alice")).toEqual([]);
      });

      it("upsert over an expired record starts afresh (no consumedAt)", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.consume("id-1");
        clock.advance(MINUTE);
        await sessions.upsert("id-1", value(2), { ttlMs: MINUTE });
        const rec = await sessions.find("id-1");
        expect(rec).toEqual({ value: value(2), expiresAt: clock.now() + MINUTE });
        expect(rec).not.toHaveProperty("consumedAt");
        expect(await sessions.listByUser("alice")).toEqual([]);
      });
    });

    describe("update", () => {
      it("replaces value and lifetime, keeping user and consumedAt", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        const consumedAt = clock.now();
        await sessions.consume("id-1");
        clock.advance(30 * SECOND);
        expect(await sessions.update("id-1", value(2), { ttlMs: HOUR })).toBe(true);
        expect(await sessions.find("id-1")).toEqual({
          value: value(2),
          expiresAt: clock.now() + HOUR,
          userId: "alice",
          consumedAt,
        });
        // The new lifetime is the one that counts.
        clock.advance(MINUTE);
        expect((await sessions.listByUser("alice")).map((r) => r.id)).toEqual(["id-1"]);
        clock.advance(HOUR - MINUTE);
        expect(await sessions.find("id-1")).toBeUndefined();
      });

      it("keeps an unconsumed record unconsumed", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        expect(await sessions.update("id-1", value(2), { ttlMs: MINUTE })).toBe(true);
        expect(await sessions.find("id-1")).not.toHaveProperty("consumedAt");
        expect((await sessions.consume("id-1"))?.consumedAt).toBeUndefined();
      });

      it("never creates a record", async () => {
        expect(await sessions.update("nope", value(1), { ttlMs: MINUTE })).toBe(false);
        expect(await sessions.find("nope")).toBeUndefined();
      });

      it("does not resurrect a destroyed or expired record", async () => {
        await sessions.upsert("destroyed", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.upsert("expired", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.destroy("destroyed");
        clock.advance(MINUTE);
        expect(await sessions.update("destroyed", value(2), { ttlMs: HOUR })).toBe(false);
        expect(await sessions.update("expired", value(2), { ttlMs: HOUR })).toBe(false);
        expect(await sessions.find("destroyed")).toBeUndefined();
        expect(await sessions.find("expired")).toBeUndefined();
        expect(await sessions.listByUser("alice")).toEqual([]);
      });

      it("does not resurrect records removed by destroyByUser", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.destroyByUser("alice");
        expect(await sessions.update("id-1", value(2), { ttlMs: MINUTE })).toBe(false);
        expect(await sessions.find("id-1")).toBeUndefined();
      });

      it("stores a copy of the value", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        const v = value(2);
        await sessions.update("id-1", v, { ttlMs: MINUTE });
        v.tags.push("mutated");
        expect((await sessions.find("id-1"))?.value).toEqual(value(2));
      });
    });

    describe("consume", () => {
      it("the first caller gets the record without consumedAt; later callers see when", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        const t0 = clock.now();
        const first = await sessions.consume("id-1");
        expect(first).toEqual({ value: value(1), expiresAt: t0 + MINUTE, userId: "alice" });
        expect(first).not.toHaveProperty("consumedAt");
        clock.advance(5 * SECOND);
        const second = await sessions.consume("id-1");
        expect(second).toEqual({
          value: value(1),
          expiresAt: t0 + MINUTE,
          userId: "alice",
          consumedAt: t0,
        });
        clock.advance(5 * SECOND);
        expect((await sessions.consume("id-1"))?.consumedAt).toBe(t0);
      });

      it("a consumed record still exists until it expires", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        const t0 = clock.now();
        await sessions.consume("id-1");
        expect(await sessions.find("id-1")).toEqual({
          value: value(1),
          expiresAt: t0 + MINUTE,
          userId: "alice",
          consumedAt: t0,
        });
        const listed = await sessions.listByUser("alice");
        expect(listed).toHaveLength(1);
        expect(listed[0]?.record.consumedAt).toBe(t0);
        clock.advance(MINUTE);
        expect(await sessions.find("id-1")).toBeUndefined();
        expect(await sessions.consume("id-1")).toBeUndefined();
      });

      it("upsert over a live consumed record keeps consumedAt", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        const t0 = clock.now();
        await sessions.consume("id-1");
        clock.advance(SECOND);
        await sessions.upsert("id-1", value(2), { ttlMs: HOUR, userId: "alice" });
        expect(await sessions.find("id-1")).toEqual({
          value: value(2),
          expiresAt: clock.now() + HOUR,
          userId: "alice",
          consumedAt: t0,
        });
        expect((await sessions.consume("id-1"))?.consumedAt).toBe(t0);
      });

      it("returns undefined for a missing id and creates nothing", async () => {
        expect(await sessions.consume("nope")).toBeUndefined();
        expect(await sessions.find("nope")).toBeUndefined();
      });

      it("does not move the expiry", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        clock.advance(MINUTE - 1);
        await sessions.consume("id-1");
        clock.advance(1);
        expect(await sessions.find("id-1")).toBeUndefined();
      });

      it("20 concurrent consumes: exactly one winner", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        const results = await Promise.all(
          Array.from({ length: 20 }, () => sessions.consume("id-1")),
        );
        expect(results.every((r) => r !== undefined)).toBe(true);
        const winners = results.filter((r) => r?.consumedAt === undefined);
        expect(winners).toHaveLength(1);
        for (const r of results) expect(r?.value).toEqual(value(1));
      });

      it("concurrent upserts do not lose consumedAt", async () => {
        await sessions.upsert("id-1", value(0), { ttlMs: MINUTE, userId: "alice" });
        const t0 = clock.now();
        const ops: Array<Promise<unknown>> = [];
        for (let i = 1; i <= 10; i++) {
          ops.push(sessions.upsert("id-1", value(i), { ttlMs: MINUTE, userId: "alice" }));
          if (i === 3) ops.push(sessions.consume("id-1"));
        }
        await Promise.all(ops);
        expect((await sessions.find("id-1"))?.consumedAt).toBe(t0);
      });
    });

    describe("destroy", () => {
      it("returns true when a live record was removed, false otherwise", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        expect(await sessions.destroy("id-1")).toBe(true);
        expect(await sessions.find("id-1")).toBeUndefined();
        expect(await sessions.consume("id-1")).toBeUndefined();
        expect(await sessions.listByUser("alice")).toEqual([]);
        expect(await sessions.destroy("id-1")).toBe(false);
        expect(await sessions.destroy("never-existed")).toBe(false);
      });

      it("removes consumed records too", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE });
        await sessions.consume("id-1");
        expect(await sessions.destroy("id-1")).toBe(true);
        expect(await sessions.find("id-1")).toBeUndefined();
      });

      it("lets the id be reused afresh", async () => {
        await sessions.upsert("id-1", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.consume("id-1");
        await sessions.destroy("id-1");
        await sessions.upsert("id-1", value(2), { ttlMs: MINUTE, userId: "bob" });
        const rec = await sessions.find("id-1");
        expect(rec).toEqual({ value: value(2), expiresAt: clock.now() + MINUTE, userId: "bob" });
        expect(await sessions.listByUser("alice")).toEqual([]);
      });
    });

    describe("destroyByUser and listByUser", () => {
      beforeEach(async () => {
        await sessions.upsert("a1", value(1), { ttlMs: MINUTE, userId: "alice" });
        await sessions.upsert("a2", value(2), { ttlMs: HOUR, userId: "alice" });
        await sessions.upsert("b1", value(3), { ttlMs: MINUTE, userId: "bob" });
        await sessions.upsert("n1", value(4), { ttlMs: MINUTE });
        await others.upsert("a1", value(5), { ttlMs: MINUTE, userId: "alice" });
      });

      it("listByUser returns exactly the user's live records with ids", async () => {
        const t0 = clock.now();
        expect(byId(await sessions.listByUser("alice"))).toEqual([
          { id: "a1", record: { value: value(1), expiresAt: t0 + MINUTE, userId: "alice" } },
          { id: "a2", record: { value: value(2), expiresAt: t0 + HOUR, userId: "alice" } },
        ]);
        expect((await sessions.listByUser("bob")).map((r) => r.id)).toEqual(["b1"]);
        expect(await sessions.listByUser("carol")).toEqual([]);
        clock.advance(MINUTE);
        expect((await sessions.listByUser("alice")).map((r) => r.id)).toEqual(["a2"]);
        expect(await sessions.listByUser("bob")).toEqual([]);
      });

      it("listByUser does not mark anything consumed", async () => {
        await sessions.listByUser("alice");
        expect((await sessions.consume("a1"))?.consumedAt).toBeUndefined();
      });

      it("destroyByUser removes only that user's records in that collection", async () => {
        expect(await sessions.destroyByUser("alice")).toBe(2);
        expect(await sessions.find("a1")).toBeUndefined();
        expect(await sessions.find("a2")).toBeUndefined();
        expect(await sessions.listByUser("alice")).toEqual([]);
        expect(await sessions.find("b1")).toBeDefined();
        expect(await sessions.find("n1")).toBeDefined();
        expect((await others.find("a1"))?.value).toEqual(value(5));
        expect((await others.listByUser("alice")).map((r) => r.id)).toEqual(["a1"]);
        expect(await sessions.destroyByUser("alice")).toBe(0);
      });

      it("destroyByUser of an unknown user removes nothing", async () => {
        expect(await sessions.destroyByUser("carol")).toBe(0);
        expect(await sessions.find("a1")).toBeDefined();
      });

      it("a user's new records after destroyByUser are indexed again", async () => {
        await sessions.destroyByUser("alice");
        await sessions.upsert("a3", value(6), { ttlMs: MINUTE, userId: "alice" });
        expect((await sessions.listByUser("alice")).map((r) => r.id)).toEqual(["a3"]);
        expect(await sessions.destroyByUser("alice")).toBe(1);
      });

      it("a record moved to another user leaves the old user's index", async () => {
        await sessions.upsert("a1", value(7), { ttlMs: MINUTE, userId: "bob" });
        expect((await sessions.listByUser("alice")).map((r) => r.id)).toEqual(["a2"]);
        expect(byId(await sessions.listByUser("bob")).map((r) => r.id)).toEqual(["a1", "b1"]);
        expect(await sessions.destroyByUser("alice")).toBe(1);
        expect((await sessions.find("a1"))?.value).toEqual(value(7));
      });

      it("many records for one user", async () => {
        const ids = Array.from({ length: 50 }, (_, i) => `m${String(i).padStart(2, "0")}`);
        await Promise.all(
          ids.map((id, i) => sessions.upsert(id, value(i), { ttlMs: MINUTE, userId: "many" })),
        );
        expect(byId(await sessions.listByUser("many")).map((r) => r.id)).toEqual(ids);
        expect(await sessions.destroyByUser("many")).toBe(50);
        expect(await sessions.listByUser("many")).toEqual([]);
      });
    });

    describe("destroyByClient", () => {
      it("removes exactly the client's records in that collection, and counts the live ones", async () => {
        await sessions.upsert("a1", value(1), { ttlMs: MINUTE, clientId: "app" });
        await sessions.upsert("a2", value(2), { ttlMs: HOUR, clientId: "app", userId: "u1" });
        await sessions.upsert("a3", value(3), { ttlMs: SECOND, clientId: "app" });
        await sessions.upsert("b1", value(4), { ttlMs: MINUTE, clientId: "other" });
        await sessions.upsert("n1", value(5), { ttlMs: MINUTE, userId: "u1" });
        await others.upsert("a1", value(6), { ttlMs: MINUTE, clientId: "app" });
        clock.advance(SECOND);
        expect(await sessions.destroyByClient("app")).toBe(2);
        for (const id of ["a1", "a2", "a3"]) expect(await sessions.find(id), id).toBeUndefined();
        expect(await sessions.find("b1")).toBeDefined();
        expect(await sessions.find("n1")).toBeDefined();
        expect(await others.find("a1")).toBeDefined();
        // Also gone from the user's index.
        expect((await sessions.listByUser("u1")).map((r) => r.id)).toEqual(["n1"]);
        expect(await sessions.destroyByClient("app")).toBe(0);
        expect(await sessions.destroyByClient("nobody")).toBe(0);
      });

      it("a record rewritten without the client, or for another, is not the client's any more", async () => {
        await sessions.upsert("x", value(1), { ttlMs: MINUTE, clientId: "app" });
        await sessions.upsert("x", value(2), { ttlMs: MINUTE });
        await sessions.upsert("y", value(3), { ttlMs: MINUTE, clientId: "app" });
        await sessions.upsert("y", value(4), { ttlMs: MINUTE, clientId: "other" });
        expect(await sessions.destroyByClient("app")).toBe(0);
        expect((await sessions.find("x"))?.value).toEqual(value(2));
        expect(await sessions.destroyByClient("other")).toBe(1);
        expect(await sessions.find("y")).toBeUndefined();
      });

      it("keeps the client on update and consume; new records after destroyByClient are indexed", async () => {
        await sessions.upsert("x", value(1), { ttlMs: MINUTE, clientId: "app" });
        await sessions.update("x", value(2), { ttlMs: HOUR });
        await sessions.consume("x");
        expect(await sessions.destroyByClient("app")).toBe(1);
        await sessions.upsert("z", value(3), { ttlMs: MINUTE, clientId: "app" });
        expect(await sessions.destroyByClient("app")).toBe(1);
        expect(await sessions.find("z")).toBeUndefined();
      });

      it("many records for one client, across expiries", async () => {
        for (let i = 0; i < 50; i++) {
          await sessions.upsert(`r${i}`, value(i), { ttlMs: (i + 1) * SECOND, clientId: "app" });
        }
        clock.advance(10 * SECOND);
        expect(await sessions.destroyByClient("app")).toBe(40);
      });
    });

    describe("capped groups (what one user or session may hold pending)", () => {
      const cap = (max: number, group = "g1") => ({ ttlMs: MINUTE, cap: { group, max } });
      /** Which of the ids exist. */
      const present = async (c: Collection<Value>, ...ids: string[]) => {
        const out: string[] = [];
        for (const id of ids) if ((await c.find(id)) !== undefined) out.push(id);
        return out;
      };

      it("writing past max destroys the oldest records of the group", async () => {
        for (const id of ["a", "b", "c", "d"]) await sessions.upsert(id, value(1), cap(2));
        expect(await present(sessions, "a", "b", "c", "d")).toEqual(["c", "d"]);
        await sessions.upsert("e", value(1), cap(2));
        expect(await present(sessions, "c", "d", "e")).toEqual(["d", "e"]);
      });

      it("max 1: a new record replaces the previous one", async () => {
        await sessions.upsert("a", value(1), cap(1));
        await sessions.upsert("b", value(2), cap(1));
        expect(await present(sessions, "a", "b")).toEqual(["b"]);
        expect((await sessions.find("b"))?.value).toEqual(value(2));
      });

      it("evicted records leave the user index too", async () => {
        await sessions.upsert("a", value(1), { ...cap(1), userId: "alice" });
        await sessions.upsert("b", value(1), { ...cap(1), userId: "alice" });
        expect((await sessions.listByUser("alice")).map((r) => r.id)).toEqual(["b"]);
        expect(await sessions.destroyByUser("alice")).toBe(1);
      });

      it("groups, records without a group and other collections are independent", async () => {
        await sessions.upsert("free1", value(1), { ttlMs: MINUTE });
        await sessions.upsert("free2", value(1), { ttlMs: MINUTE });
        await others.upsert("o1", value(1), cap(1));
        await sessions.upsert("a", value(1), cap(1));
        await sessions.upsert("x", value(1), cap(1, "g2"));
        await sessions.upsert("b", value(1), cap(1));
        expect(await present(sessions, "free1", "free2", "a", "x", "b")).toEqual([
          "free1",
          "free2",
          "x",
          "b",
        ]);
        expect(await present(others, "o1")).toEqual(["o1"]);
      });

      it("consumed records neither count nor are evicted (a replay must still be seen)", async () => {
        await sessions.upsert("a", value(1), cap(2));
        await sessions.consume("a");
        await sessions.upsert("b", value(1), cap(2));
        await sessions.upsert("c", value(1), cap(2));
        expect(await present(sessions, "a", "b", "c")).toEqual(["a", "b", "c"]);
        expect((await sessions.find("a"))?.consumedAt).toBe(clock.now());
        await sessions.upsert("d", value(1), cap(2));
        expect(await present(sessions, "a", "b", "c", "d")).toEqual(["a", "c", "d"]);
      });

      it("expired and destroyed records free their place", async () => {
        await sessions.upsert("a", value(1), { ttlMs: SECOND, cap: { group: "g1", max: 2 } });
        await sessions.upsert("b", value(1), cap(2));
        clock.advance(SECOND);
        await sessions.upsert("c", value(1), cap(2));
        expect(await present(sessions, "b", "c")).toEqual(["b", "c"]);
        expect(await sessions.destroy("b")).toBe(true);
        await sessions.upsert("d", value(1), cap(2));
        expect(await present(sessions, "c", "d")).toEqual(["c", "d"]);
      });

      it("rewriting a record makes it the newest; rewriting it without the cap takes it out", async () => {
        await sessions.upsert("a", value(1), cap(2));
        await sessions.upsert("b", value(1), cap(2));
        await sessions.upsert("a", value(2), cap(2));
        await sessions.upsert("c", value(1), cap(2));
        expect(await present(sessions, "a", "b", "c")).toEqual(["a", "c"]);
        await sessions.upsert("a", value(3), { ttlMs: MINUTE });
        await sessions.upsert("d", value(1), cap(2));
        await sessions.upsert("e", value(1), cap(2));
        expect(await present(sessions, "a", "c", "d", "e")).toEqual(["a", "d", "e"]);
      });

      it("update keeps a record in its group and in its place", async () => {
        await sessions.upsert("a", value(1), cap(2));
        await sessions.upsert("b", value(1), cap(2));
        expect(await sessions.update("a", value(2), { ttlMs: HOUR })).toBe(true);
        await sessions.upsert("c", value(1), cap(2));
        expect(await present(sessions, "a", "b", "c")).toEqual(["b", "c"]);
      });

      it("20 concurrent writes to one group leave exactly max records", async () => {
        const ids = Array.from({ length: 20 }, (_, i) => `id-${i}`);
        await Promise.all(ids.map((id) => sessions.upsert(id, value(1), cap(3))));
        expect(await present(sessions, ...ids)).toHaveLength(3);
      });

      for (const bad of [0, -1, 1.5, Number.NaN]) {
        it(`rejects max = ${bad} and stores nothing`, async () => {
          await expect(sessions.upsert("a", value(1), cap(bad))).rejects.toThrow(RangeError);
          expect(await sessions.find("a")).toBeUndefined();
        });
      }

      it("rejects an empty group", async () => {
        await expect(sessions.upsert("a", value(1), cap(1, ""))).rejects.toThrow(RangeError);
        expect(await sessions.find("a")).toBeUndefined();
      });
    });

    describe("collections are isolated", () => {
      it("the same id in two collections is two records", async () => {
        await sessions.upsert("same", value(1), { ttlMs: MINUTE, userId: "alice" });
        await others.upsert("same", value(2), { ttlMs: HOUR, userId: "alice" });
        expect((await sessions.find("same"))?.value).toEqual(value(1));
        expect((await others.find("same"))?.value).toEqual(value(2));

        expect((await sessions.consume("same"))?.consumedAt).toBeUndefined();
        expect((await others.consume("same"))?.consumedAt).toBeUndefined();

        expect(await sessions.destroy("same")).toBe(true);
        expect((await others.find("same"))?.value).toEqual(value(2));
        expect((await others.listByUser("alice")).map((r) => r.id)).toEqual(["same"]);
      });

      it("a record in one collection is invisible in another", async () => {
        await others.upsert("only-other", value(1), { ttlMs: MINUTE, userId: "alice" });
        expect(await sessions.find("only-other")).toBeUndefined();
        expect(await sessions.consume("only-other")).toBeUndefined();
        expect(await sessions.update("only-other", value(2), { ttlMs: MINUTE })).toBe(false);
        expect(await sessions.destroy("only-other")).toBe(false);
        expect(await sessions.listByUser("alice")).toEqual([]);
        expect(await sessions.destroyByUser("alice")).toBe(0);
        expect((await others.find("only-other"))?.value).toEqual(value(1));
      });

      it("collection() hands out views of the same data", async () => {
        await store.collection<Value>("session").upsert("id-1", value(1), { ttlMs: MINUTE });
        expect((await store.collection<Value>("session").find("id-1"))?.value).toEqual(value(1));
      });
    });

    describe("counters", () => {
      it("hit starts a window and counts within it", async () => {
        const t0 = clock.now();
        expect(await store.counters.hit("k", MINUTE)).toEqual({ count: 1, resetAt: t0 + MINUTE });
        clock.advance(10 * SECOND);
        expect(await store.counters.hit("k", MINUTE)).toEqual({ count: 2, resetAt: t0 + MINUTE });
        expect(await store.counters.get("k")).toEqual({ count: 2, resetAt: t0 + MINUTE });
      });

      it("the window is fixed: a different windowMs mid-window does not move it", async () => {
        const t0 = clock.now();
        await store.counters.hit("k", MINUTE);
        expect(await store.counters.hit("k", HOUR)).toEqual({ count: 2, resetAt: t0 + MINUTE });
      });

      it("a new window starts at resetAt", async () => {
        await store.counters.hit("k", MINUTE);
        await store.counters.hit("k", MINUTE);
        clock.advance(MINUTE - 1);
        expect((await store.counters.get("k"))?.count).toBe(2);
        clock.advance(1);
        expect(await store.counters.get("k")).toBeUndefined();
        const t1 = clock.now();
        expect(await store.counters.hit("k", MINUTE)).toEqual({ count: 1, resetAt: t1 + MINUTE });
      });

      it("hit after the window without a get in between also starts afresh", async () => {
        await store.counters.hit("k", MINUTE);
        await store.counters.hit("k", MINUTE);
        clock.advance(2 * MINUTE);
        const t1 = clock.now();
        expect(await store.counters.hit("k", SECOND)).toEqual({ count: 1, resetAt: t1 + SECOND });
      });

      it("get of an unknown key is undefined", async () => {
        expect(await store.counters.get("unknown")).toBeUndefined();
      });

      it("reset ends the window", async () => {
        await store.counters.hit("k", MINUTE);
        await store.counters.reset("k");
        expect(await store.counters.get("k")).toBeUndefined();
        const t0 = clock.now();
        expect(await store.counters.hit("k", MINUTE)).toEqual({ count: 1, resetAt: t0 + MINUTE });
        await store.counters.reset("never-hit");
      });

      it("20 concurrent hits count 20, each count seen once", async () => {
        const states = await Promise.all(
          Array.from({ length: 20 }, () => store.counters.hit("k", MINUTE)),
        );
        expect(states.map((s) => s.count).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 20 }, (_, i) => i + 1),
        );
        expect(new Set(states.map((s) => s.resetAt)).size).toBe(1);
        expect((await store.counters.get("k"))?.count).toBe(20);
      });

      it("keys are independent", async () => {
        await store.counters.hit("a", MINUTE);
        await store.counters.hit("a", MINUTE);
        await store.counters.hit("b", HOUR);
        expect((await store.counters.get("a"))?.count).toBe(2);
        expect((await store.counters.get("b"))?.count).toBe(1);
        await store.counters.reset("a");
        expect(await store.counters.get("a")).toBeUndefined();
        expect((await store.counters.get("b"))?.count).toBe(1);
        clock.advance(MINUTE);
        expect((await store.counters.get("b"))?.count).toBe(1);
      });

      it("undo takes one back from a running window, never below zero, and nothing without one", async () => {
        await store.counters.hit("u", MINUTE);
        await store.counters.hit("u", MINUTE);
        await store.counters.undo("u");
        expect((await store.counters.get("u"))?.count).toBe(1);
        await store.counters.undo("u");
        await store.counters.undo("u");
        expect((await store.counters.get("u"))?.count).toBe(0);
        await store.counters.undo("none");
        expect(await store.counters.get("none")).toBeUndefined();
        expect((await store.counters.hit("u", MINUTE)).count).toBe(1);
      });

      it("counter keys do not collide with record ids", async () => {
        await sessions.upsert("k", value(1), { ttlMs: MINUTE });
        await store.counters.hit("k", MINUTE);
        expect((await sessions.find("k"))?.value).toEqual(value(1));
        expect((await store.counters.get("k"))?.count).toBe(1);
      });

      for (const windowMs of BAD_TTLS) {
        it(`hit rejects windowMs = ${windowMs}`, async () => {
          await expect(store.counters.hit("k", windowMs)).rejects.toThrow(RangeError);
          expect(await store.counters.get("k")).toBeUndefined();
        });
      }
    });

    describe("counters: hitChain (one event against several limits)", () => {
      const link = (key: string, limit: number, windowMs = MINUTE) => ({ key, limit, windowMs });

      it("counts each key in order, each in its own window, and returns every state", async () => {
        const t0 = clock.now();
        expect(await store.counters.hitChain([link("a", 5), link("b", 5, HOUR)])).toEqual([
          { count: 1, resetAt: t0 + MINUTE },
          { count: 1, resetAt: t0 + HOUR },
        ]);
        clock.advance(SECOND);
        expect(await store.counters.hitChain([link("a", 5), link("b", 5, HOUR)])).toEqual([
          { count: 2, resetAt: t0 + MINUTE },
          { count: 2, resetAt: t0 + HOUR },
        ]);
        expect(await store.counters.get("a")).toEqual({ count: 2, resetAt: t0 + MINUTE });
        expect(await store.counters.get("b")).toEqual({ count: 2, resetAt: t0 + HOUR });
      });

      it("shares its counts with hit: the same windows, whichever call counted", async () => {
        const t0 = clock.now();
        await store.counters.hit("a", MINUTE);
        clock.advance(SECOND);
        expect(await store.counters.hitChain([link("a", 5, HOUR), link("b", 5)])).toEqual([
          { count: 2, resetAt: t0 + MINUTE },
          { count: 1, resetAt: t0 + SECOND + MINUTE },
        ]);
        expect(await store.counters.hit("b", MINUTE)).toEqual({
          count: 2,
          resetAt: t0 + SECOND + MINUTE,
        });
      });

      it("stops after the first key over its limit: the keys after it are not touched", async () => {
        const t0 = clock.now();
        await store.counters.hit("b", HOUR);
        const chain = [link("a", 2), link("b", 10, HOUR), link("c", 10)];
        expect((await store.counters.hitChain(chain)).map((s) => s.count)).toEqual([1, 2, 1]);
        expect((await store.counters.hitChain(chain)).map((s) => s.count)).toEqual([2, 3, 2]);
        // "a" reaches 3 > 2: counted, and the chain ends there.
        expect(await store.counters.hitChain(chain)).toEqual([{ count: 3, resetAt: t0 + MINUTE }]);
        expect(await store.counters.hitChain(chain)).toEqual([{ count: 4, resetAt: t0 + MINUTE }]);
        expect((await store.counters.get("b"))?.count).toBe(3);
        expect((await store.counters.get("c"))?.count).toBe(2);
      });

      it("a key over its limit in the middle stops the rest; a key never hit stays absent", async () => {
        await store.counters.hit("b", MINUTE);
        expect(
          (await store.counters.hitChain([link("a", 5), link("b", 0), link("c", 5)])).map(
            (s) => s.count,
          ),
        ).toEqual([1, 2]);
        expect(await store.counters.get("c")).toBeUndefined();
      });

      it("a count equal to the limit is within it (the chain goes on)", async () => {
        expect(
          (await store.counters.hitChain([link("a", 1), link("b", 1)])).map((s) => s.count),
        ).toEqual([1, 1]);
        expect(
          (await store.counters.hitChain([link("a", 1), link("b", 1)])).map((s) => s.count),
        ).toEqual([2]);
      });

      it("each key's window ends at its own resetAt (frozen clock)", async () => {
        const t0 = clock.now();
        const chain = [link("a", 10, SECOND), link("b", 10)];
        await store.counters.hitChain(chain);
        await store.counters.hitChain(chain);
        clock.advance(SECOND - 1);
        expect((await store.counters.hitChain(chain)).map((s) => s.count)).toEqual([3, 3]);
        clock.advance(1);
        const t1 = clock.now();
        expect(await store.counters.hitChain(chain)).toEqual([
          { count: 1, resetAt: t1 + SECOND },
          { count: 4, resetAt: t0 + MINUTE },
        ]);
        clock.advance(MINUTE);
        const t2 = clock.now();
        expect(await store.counters.hitChain(chain)).toEqual([
          { count: 1, resetAt: t2 + SECOND },
          { count: 1, resetAt: t2 + MINUTE },
        ]);
      });

      it("a key over its limit counts again from 1 once its window ended", async () => {
        const chain = [link("a", 1, SECOND), link("b", 10)];
        await store.counters.hitChain(chain);
        expect(await store.counters.hitChain(chain)).toHaveLength(1);
        clock.advance(SECOND);
        expect((await store.counters.hitChain(chain)).map((s) => s.count)).toEqual([1, 2]);
      });

      it("an empty chain counts nothing", async () => {
        expect(await store.counters.hitChain([])).toEqual([]);
      });

      const bad: [string, { key: string; limit: number; windowMs: number }[]][] = [
        ...BAD_TTLS.map(
          (windowMs) =>
            [`windowMs = ${windowMs}`, [link("a", 5), link("b", 5, windowMs)]] as [
              string,
              { key: string; limit: number; windowMs: number }[],
            ],
        ),
        ["limit = -1", [link("a", 5), link("b", -1)]],
        ["limit = 1.5", [link("a", 5), link("b", 1.5)]],
        ["limit = NaN", [link("a", 5), link("b", Number.NaN)]],
        ["limit = Infinity", [link("a", 5), link("b", Number.POSITIVE_INFINITY)]],
        ["a key twice", [link("a", 5), link("b", 5), link("a", 5)]],
      ];
      for (const [what, chain] of bad) {
        it(`rejects a chain with ${what} before counting anything`, async () => {
          await expect(store.counters.hitChain(chain)).rejects.toThrow(RangeError);
          expect(await store.counters.get("a")).toBeUndefined();
          expect(await store.counters.get("b")).toBeUndefined();
        });
      }

      it("20 concurrent chains on the same keys count exactly 20 on each, each count seen once", async () => {
        const states = await Promise.all(
          Array.from({ length: 20 }, () =>
            store.counters.hitChain([link("a", 100), link("b", 100, HOUR)]),
          ),
        );
        for (const i of [0, 1]) {
          expect(states.map((s) => s[i]?.count).sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(
            Array.from({ length: 20 }, (_, n) => n + 1),
          );
        }
        expect((await store.counters.get("a"))?.count).toBe(20);
        expect((await store.counters.get("b"))?.count).toBe(20);
      });

      it("20 concurrent chains over a limit of 5: the second key counts exactly the 5 within it", async () => {
        const states = await Promise.all(
          Array.from({ length: 20 }, () => store.counters.hitChain([link("a", 5), link("b", 100)])),
        );
        expect(states.filter((s) => s.length === 2)).toHaveLength(5);
        expect(states.filter((s) => s.length === 2).every((s) => (s[0]?.count ?? 99) <= 5)).toBe(
          true,
        );
        expect((await store.counters.get("a"))?.count).toBe(20);
        expect((await store.counters.get("b"))?.count).toBe(5);
      });
    });

    describe("counters: release (undo some keys, reset others, together)", () => {
      it("undoes and resets each key as asked", async () => {
        const t0 = clock.now();
        for (let i = 0; i < 3; i++)
          await store.counters.hitChain([
            { key: "a", windowMs: MINUTE, limit: 9 },
            { key: "b", windowMs: MINUTE, limit: 9 },
          ]);
        await store.counters.release([
          { key: "a", op: "undo" },
          { key: "b", op: "reset" },
        ]);
        expect(await store.counters.get("a")).toEqual({ count: 2, resetAt: t0 + MINUTE });
        expect(await store.counters.get("b")).toBeUndefined();
        clock.advance(SECOND);
        expect(await store.counters.hit("b", MINUTE)).toEqual({
          count: 1,
          resetAt: t0 + SECOND + MINUTE,
        });
      });

      it("undo never goes below zero, and neither op starts a window", async () => {
        await store.counters.hit("a", MINUTE);
        const both = [
          { key: "a", op: "undo" as const },
          { key: "none", op: "undo" as const },
          { key: "gone", op: "reset" as const },
        ];
        await store.counters.release(both);
        await store.counters.release(both);
        expect((await store.counters.get("a"))?.count).toBe(0);
        expect(await store.counters.get("none")).toBeUndefined();
        expect(await store.counters.get("gone")).toBeUndefined();
        await store.counters.release([{ key: "none", op: "undo" }]);
        expect(await store.counters.get("none")).toBeUndefined();
        expect(await store.counters.hit("none", MINUTE)).toMatchObject({ count: 1 });
      });

      it("an ended window is not undone: the next hit starts afresh", async () => {
        await store.counters.hit("a", MINUTE);
        await store.counters.hit("a", MINUTE);
        clock.advance(MINUTE);
        await store.counters.release([{ key: "a", op: "undo" }]);
        expect(await store.counters.get("a")).toBeUndefined();
        expect((await store.counters.hit("a", MINUTE)).count).toBe(1);
      });

      it("two undos in one release, only their keys", async () => {
        for (const k of ["a", "b", "c"]) {
          await store.counters.hit(k, MINUTE);
          await store.counters.hit(k, MINUTE);
        }
        await store.counters.release([
          { key: "b", op: "undo" },
          { key: "a", op: "undo" },
        ]);
        expect((await store.counters.get("a"))?.count).toBe(1);
        expect((await store.counters.get("b"))?.count).toBe(1);
        expect((await store.counters.get("c"))?.count).toBe(2);
      });

      it("an empty release changes nothing; a key twice is refused before anything changes", async () => {
        await store.counters.hit("a", MINUTE);
        await store.counters.release([]);
        await expect(
          store.counters.release([
            { key: "a", op: "reset" },
            { key: "a", op: "undo" },
          ]),
        ).rejects.toThrow(RangeError);
        await expect(store.counters.release([{ key: "a", op: "drop" as "reset" }])).rejects.toThrow(
          RangeError,
        );
        expect((await store.counters.get("a"))?.count).toBe(1);
      });

      it("20 concurrent releases of a count of 15 take it to zero, never below", async () => {
        for (let i = 0; i < 15; i++) await store.counters.hit("a", MINUTE);
        await Promise.all(
          Array.from({ length: 20 }, () =>
            store.counters.release([
              { key: "a", op: "undo" },
              { key: "b", op: "reset" },
            ]),
          ),
        );
        expect((await store.counters.get("a"))?.count).toBe(0);
        expect(await store.counters.get("b")).toBeUndefined();
      });
    });
  });
}

// ── Durable store: users ──────────────────────────────────────────────────────────────────

function user(n: number, overrides: Partial<UserRecord> = {}): UserRecord {
  const t = Date.UTC(2026, 0, 1) + n * 1000;
  return {
    id: `user-${n}`,
    username: `User${n}`,
    usernameKey: `user${n}`,
    passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$salt${n}$hash${n}`,
    roles: ["user"],
    disabled: false,
    privilegeVersion: 1,
    createdAt: t,
    updatedAt: t,
    passwordChangedAt: t,
    sessionsValidAfter: 0,
    ...overrides,
  };
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TesseraError);
  expect((err as TesseraError).code).toBe(code);
}

export function durableContract(
  name: string,
  make: (clock: ManualClock) => Promise<Made<DurableStore>>,
): void {
  describe(`DurableStore contract: ${name}`, () => {
    let made: Made<DurableStore>;
    let store: DurableStore;

    beforeEach(async () => {
      made = await make(new ManualClock());
      store = made.store;
    });

    afterEach(async () => {
      await made.close();
    });

    auditLogContract(() => store);

    it("has an ephemeral store", async () => {
      await expect(store.ephemeral.ping()).resolves.toBeUndefined();
    });

    it("createUser then find by id and by key", async () => {
      const u = user(1, { roles: ["admin", "user"], disabled: true, privilegeVersion: 7 });
      await store.users.createUser(u);
      expect(await store.users.findUserById(u.id)).toEqual(u);
      expect(await store.users.findUserByKey(u.usernameKey)).toEqual(u);
    });

    it("round-trips a user's OpenID Connect profile (email, verified, display name), and its removal", async () => {
      const u = user(1, { email: "zoë@example.com", emailVerified: true, displayName: "Zoë Ö" });
      await store.users.createUser(u);
      expect(await store.users.findUserById(u.id)).toEqual(u);
      const { email: _e, emailVerified: _v, displayName: _d, ...plain } = u;
      await store.users.updateUser(plain);
      expect(await store.users.findUserById(u.id)).toEqual(plain);
      await store.users.updateUser({ ...plain, email: "z@example.com" });
      expect(await store.users.findUserByKey(u.usernameKey)).toEqual({
        ...plain,
        email: "z@example.com",
      });
    });

    it("round-trips an empty role list and unusual text", async () => {
      const u = user(1, {
        roles: [],
        username: 'Zoë O\'Brien "x"',
        usernameKey: 'zoë o\'brien "x"',
      });
      await store.users.createUser(u);
      expect(await store.users.findUserByKey(u.usernameKey)).toEqual(u);
    });

    it("finds nothing for unknown id or key", async () => {
      await store.users.createUser(user(1));
      expect(await store.users.findUserById("user-2")).toBeUndefined();
      expect(await store.users.findUserByKey("user2")).toBeUndefined();
      // The id is not a key, nor the key an id.
      expect(await store.users.findUserByKey("user-1")).toBeUndefined();
      expect(await store.users.findUserById("user1")).toBeUndefined();
    });

    it("listUsers returns every user", async () => {
      expect(await store.users.listUsers()).toEqual([]);
      const users = [user(3), user(1), user(2)];
      for (const u of users) await store.users.createUser(u);
      const listed = await store.users.listUsers();
      expect(byId(listed)).toEqual(byId(users));
    });

    it("a taken usernameKey is user_exists, and nothing changes", async () => {
      await store.users.createUser(user(1));
      await expectCode(store.users.createUser(user(2, { usernameKey: "user1" })), "user_exists");
      expect(await store.users.findUserById("user-2")).toBeUndefined();
      expect((await store.users.findUserByKey("user1"))?.id).toBe("user-1");
      expect(await store.users.listUsers()).toHaveLength(1);
    });

    it("updateUser replaces the record", async () => {
      const u = user(1);
      await store.users.createUser(u);
      const changed: UserRecord = {
        ...u,
        passwordHash: "new-hash",
        roles: ["admin"],
        disabled: true,
        privilegeVersion: 2,
        updatedAt: u.updatedAt + 5000,
        passwordChangedAt: u.passwordChangedAt + 5000,
      };
      await store.users.updateUser(changed);
      expect(await store.users.findUserById(u.id)).toEqual(changed);
      expect(await store.users.findUserByKey(u.usernameKey)).toEqual(changed);
      expect(await store.users.listUsers()).toEqual([changed]);
    });

    it("updateUser can rename; the old key is freed", async () => {
      const u = user(1);
      await store.users.createUser(u);
      const renamed = { ...u, username: "Renamed", usernameKey: "renamed" };
      await store.users.updateUser(renamed);
      expect(await store.users.findUserByKey("renamed")).toEqual(renamed);
      expect(await store.users.findUserByKey("user1")).toBeUndefined();
      await store.users.createUser(user(2, { usernameKey: "user1" }));
      expect((await store.users.findUserByKey("user1"))?.id).toBe("user-2");
    });

    it("updateUser of a missing user is user_not_found and creates nothing", async () => {
      await expectCode(store.users.updateUser(user(9)), "user_not_found");
      expect(await store.users.findUserById("user-9")).toBeUndefined();
      expect(await store.users.findUserByKey("user9")).toBeUndefined();
    });

    it("renaming to a taken key is user_exists, and nothing changes", async () => {
      await store.users.createUser(user(1));
      await store.users.createUser(user(2));
      const clash = { ...user(2), usernameKey: "user1", passwordHash: "changed" };
      await expectCode(store.users.updateUser(clash), "user_exists");
      expect(await store.users.findUserById("user-2")).toEqual(user(2));
      expect((await store.users.findUserByKey("user1"))?.id).toBe("user-1");
      expect((await store.users.findUserByKey("user2"))?.id).toBe("user-2");
    });

    it("returns copies: mutating inputs or results changes nothing", async () => {
      const u = user(1);
      await store.users.createUser(u);
      u.roles.push("admin");
      u.disabled = true;
      const byIdResult = (await store.users.findUserById("user-1")) as UserRecord;
      byIdResult.roles.push("root");
      byIdResult.privilegeVersion = 99;
      const byKeyResult = (await store.users.findUserByKey("user1")) as UserRecord;
      byKeyResult.roles.length = 0;
      const [listed] = await store.users.listUsers();
      if (listed !== undefined) listed.passwordHash = "tampered";
      expect(await store.users.findUserById("user-1")).toEqual(user(1));

      const update = { ...user(1), roles: ["editor"] };
      await store.users.updateUser(update);
      update.roles.push("admin");
      expect((await store.users.findUserById("user-1"))?.roles).toEqual(["editor"]);
    });

    describe("signing keys", () => {
      const key = (kid: string, n: number, extra: Partial<KeyRecord> = {}): KeyRecord => ({
        kid,
        alg: "EdDSA",
        publicJwk: { kty: "OKP", crv: "Ed25519", x: `x-${kid}` },
        privateKeyEnc: `v1.iv.${kid}.tag`,
        createdAt: 1000 + n,
        activatesAt: 2000 + n,
        ...extra,
      });

      it("starts empty, stores and lists keys oldest first", async () => {
        expect(await store.keys.listKeys()).toEqual([]);
        await store.keys.putKeys([
          key("b", 2),
          key("a", 1, { retiredAt: 5000, removeAfter: 9000 }),
        ]);
        expect(await store.keys.listKeys()).toEqual([
          key("a", 1, { retiredAt: 5000, removeAfter: 9000 }),
          key("b", 2),
        ]);
      });

      it("putKeys replaces keys with the same kid (rotation retires the old one)", async () => {
        await store.keys.putKeys([key("a", 1)]);
        await store.keys.putKeys([
          key("a", 1, { retiredAt: 7000, removeAfter: 8000 }),
          key("b", 2),
        ]);
        const keys = await store.keys.listKeys();
        expect(keys).toHaveLength(2);
        expect(keys[0]).toEqual(key("a", 1, { retiredAt: 7000, removeAfter: 8000 }));
      });

      it("putFirstKey inserts a whole set only while no key signs now or later, atomically", async () => {
        // Several at once on an empty store (instances starting together): exactly one set
        // (a key and its companions) wins, whole.
        const sets = ["a", "b", "c", "d"].map((kid, n) => [
          key(kid, n),
          key(`${kid}-es`, n, { alg: "ES256", purpose: "id_token" }),
          key(`${kid}-rs`, n, { alg: "RS256", purpose: "id_token" }),
        ]);
        const won = await Promise.all(sets.map((set) => store.keys.putFirstKey(set, 3000)));
        expect(won.filter(Boolean)).toHaveLength(1);
        const winner = sets[won.indexOf(true)] as KeyRecord[];
        expect(await store.keys.listKeys()).toEqual(
          [...winner].sort((x, y) => x.createdAt - y.createdAt || (x.kid < y.kid ? -1 : 1)),
        );
        // A key still signing (or pending) blocks; one retired by then does not.
        expect(await store.keys.putFirstKey([key("e", 5)], 3000)).toBe(false);
        await store.keys.putKeys(winner.map((k) => ({ ...k, retiredAt: 2500 })));
        expect(await store.keys.putFirstKey([key("e", 5)], 3000)).toBe(true);
        expect((await store.keys.listKeys()).map((k) => k.kid)).toContain("e");
      });

      it("keeps a key's purpose (a companion signs ID tokens only)", async () => {
        await store.keys.putKeys([key("a", 1), key("r", 1, { alg: "RS256", purpose: "id_token" })]);
        const keys = await store.keys.listKeys();
        expect(keys.find((k) => k.kid === "a")?.purpose).toBeUndefined();
        expect(keys.find((k) => k.kid === "r")?.purpose).toBe("id_token");
      });

      it("deleteKey reports whether a key went", async () => {
        await store.keys.putKeys([key("a", 1)]);
        expect(await store.keys.deleteKey("a")).toBe(true);
        expect(await store.keys.deleteKey("a")).toBe(false);
        expect(await store.keys.listKeys()).toEqual([]);
      });
    });

    describe("installation settings", () => {
      it("start unset; initSetting records the first value only and returns what is recorded", async () => {
        expect(await store.installation.getSetting("issuer")).toBeUndefined();
        expect(await store.installation.initSetting("issuer", "https://a.example")).toBe(
          "https://a.example",
        );
        // A second process starting with another value learns the recorded one.
        expect(await store.installation.initSetting("issuer", "http://localhost:4000")).toBe(
          "https://a.example",
        );
        expect(await store.installation.getSetting("issuer")).toBe("https://a.example");
      });

      it("putSetting replaces the value (a deliberate change)", async () => {
        await store.installation.initSetting("issuer", "https://a.example");
        await store.installation.putSetting("issuer", "https://b.example");
        expect(await store.installation.getSetting("issuer")).toBe("https://b.example");
        expect(await store.installation.initSetting("issuer", "https://c.example")).toBe(
          "https://b.example",
        );
      });
    });

    describe("kept revocations (what an emptied Redis is refilled with)", () => {
      const T = 1_800_000_000; // seconds
      const jwt = (jti: string, exp = T + 600): KeptRevocation => ({
        type: "jwt",
        jti,
        iss: "https://a.example",
        exp,
      });
      const subject: KeptRevocation = {
        type: "subject",
        sub: "u1",
        iss: "https://a.example",
        before: T,
        exp: T + 900,
      };

      it("keeps each revocation once and pages through the live ones by key", async () => {
        const kept = store.keptRevocations;
        for (const e of [jwt("a"), jwt("b"), subject, jwt("a")]) await kept.keep(e);
        const all = await kept.page(T * 1000, "", 10);
        expect(all.map((r) => r.event)).toEqual(
          expect.arrayContaining([jwt("a"), jwt("b"), subject]),
        );
        expect(all).toHaveLength(3);
        const keys = all.map((r) => r.key);
        expect([...keys].sort()).toEqual(keys);
        const first = await kept.page(T * 1000, "", 2);
        const rest = await kept.page(T * 1000, first.at(-1)?.key as string, 2);
        expect([...first, ...rest]).toEqual(all);
      });

      it("leaves out a revocation from its exp on", async () => {
        const kept = store.keptRevocations;
        await kept.keep(jwt("short", T + 10));
        await kept.keep(jwt("long", T + 20));
        const live = async (nowMs: number) =>
          (await kept.page(nowMs, "", 10)).map((r) => (r.event as { jti: string }).jti);
        expect((await live((T + 10) * 1000 - 1)).sort()).toEqual(["long", "short"]);
        expect(await live((T + 10) * 1000)).toEqual(["long"]);
        expect(await live((T + 20) * 1000)).toEqual([]);
      });
    });

    describe("clients", () => {
      const client = (id: string, extra: Partial<ClientRecord> = {}): ClientRecord => ({
        id,
        secretHash: `hash-${id}`,
        grants: ["client_credentials"],
        tokenFormat: "jwt",
        audience: ["https://api.example.com"],
        scopes: ["read", "write"],
        introspect: false,
        redirectUris: [],
        firstParty: false,
        fingerprint: false,
        generation: `gen-${id}`,
        accessTokensValidAfter: 1000,
        createdAt: 1000,
        updatedAt: 1000,
        ...extra,
      });

      it("round-trips an OpenID Connect registration (oidc, idTokenAlg) and its removal", async () => {
        const rp = client("rp", {
          oidc: true,
          idTokenAlg: "EdDSA",
          postLogoutRedirectUris: ["https://rp/out", "https://rp/bye?x=1"],
          backchannelLogoutUri: "https://rp/backchannel",
        });
        await store.clients.createClient(rp);
        expect(await store.clients.findClient("rp")).toEqual(rp);
        const {
          oidc: _o,
          idTokenAlg: _a,
          postLogoutRedirectUris: _p,
          backchannelLogoutUri: _b,
          ...plain
        } = rp;
        await store.clients.updateClient(plain);
        expect(await store.clients.findClient("rp")).toEqual(plain);
        await store.clients.updateClient({ ...plain, oidc: true });
        expect(await store.clients.listClients()).toEqual([{ ...plain, oidc: true }]);
      });

      it("creates, finds, lists, updates and deletes", async () => {
        await store.clients.createClient(client("svc", { accessTtl: 300 }));
        await store.clients.createClient(
          client("spa", {
            secretHash: undefined,
            createdAt: 2000,
            introspect: true,
            redirectUris: ["https://app/cb"],
          }),
        );
        const spa = await store.clients.findClient("spa");
        expect(spa).toEqual(
          client("spa", {
            secretHash: undefined,
            createdAt: 2000,
            introspect: true,
            redirectUris: ["https://app/cb"],
          }),
        );
        expect(spa && "secretHash" in spa && spa.secretHash !== undefined).toBe(false);
        expect((await store.clients.listClients()).map((c) => c.id)).toEqual(["svc", "spa"]);
        await store.clients.updateClient(
          client("svc", {
            secretHash: "rotated",
            updatedAt: 3000,
            generation: "gen-2",
            accessTokensValidAfter: 3000,
          }),
        );
        expect((await store.clients.findClient("svc"))?.secretHash).toBe("rotated");
        expect((await store.clients.findClient("svc"))?.generation).toBe("gen-2");
        expect((await store.clients.findClient("svc"))?.accessTokensValidAfter).toBe(3000);
        expect((await store.clients.findClient("svc"))?.accessTtl).toBeUndefined();
        expect(await store.clients.deleteClient("svc")).toBe(true);
        expect(await store.clients.deleteClient("svc")).toBe(false);
        expect(await store.clients.findClient("svc")).toBeUndefined();
      });

      it("refuses a duplicate id and an update of a missing client", async () => {
        await store.clients.createClient(client("svc"));
        await expectCode(store.clients.createClient(client("svc")), "client_exists");
        await expectCode(store.clients.updateClient(client("nope")), "client_not_found");
      });

      it("returns copies", async () => {
        const c = client("svc");
        await store.clients.createClient(c);
        c.scopes.push("admin");
        const found = (await store.clients.findClient("svc")) as ClientRecord;
        found.audience.push("evil");
        expect(await store.clients.findClient("svc")).toEqual(client("svc"));
      });
    });

    describe("refresh families", () => {
      const T = 1_000_000;
      const fam = (id: string, extra: Partial<RefreshFamily> = {}): RefreshFamily => ({
        id,
        clientId: "app",
        userId: "u1",
        scope: ["read"],
        createdAt: T,
        expiresAt: T + 100_000,
        ...extra,
      });
      const tok = (
        hash: string,
        familyId = "f1",
        extra: Partial<RefreshTokenRecord> = {},
      ): RefreshTokenRecord => ({
        hash,
        familyId,
        createdAt: T,
        expiresAt: T + 50_000,
        ...extra,
      });

      it("creates a family with its first token and finds both", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        expect(await store.refresh.findFamily("f1")).toEqual(fam("f1"));
        expect(await store.refresh.findToken("h1")).toEqual({
          token: tok("h1"),
          family: fam("f1"),
        });
        expect(await store.refresh.findToken("nope")).toBeUndefined();
      });

      it("rotates once; a replay within grace gets 'replayed'; later reuse revokes the family", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        const r1 = await store.refresh.rotate({
          hash: "h1",
          successor: tok("h2"),
          now: T + 10,
          graceMs: 1000,
        });
        expect(r1.kind).toBe("rotated");
        expect((await store.refresh.findToken("h1"))?.token).toEqual(
          tok("h1", "f1", { consumedAt: T + 10, successorHash: "h2" }),
        );
        const replay = await store.refresh.rotate({
          hash: "h1",
          successor: tok("h2b"),
          now: T + 500,
          graceMs: 1000,
        });
        expect(replay.kind).toBe("replayed");
        expect(await store.refresh.findToken("h2b")).toBeUndefined();
        const reuse = await store.refresh.rotate({
          hash: "h1",
          successor: tok("h2c"),
          now: T + 1011,
          graceMs: 1000,
        });
        expect(reuse.kind).toBe("reused");
        expect((await store.refresh.findFamily("f1"))?.revokedAt).toBe(T + 1011);
        // A revoked family's tokens are all invalid now, the newest included.
        expect(
          (
            await store.refresh.rotate({
              hash: "h2",
              successor: tok("h3"),
              now: T + 1012,
              graceMs: 1000,
            })
          ).kind,
        ).toBe("invalid");
      });

      it("a replay after the successor was used revokes the family, even within grace", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        await store.refresh.rotate({
          hash: "h1",
          successor: tok("h2"),
          now: T + 1,
          graceMs: 10_000,
        });
        await store.refresh.rotate({
          hash: "h2",
          successor: tok("h3"),
          now: T + 2,
          graceMs: 10_000,
        });
        expect(
          (
            await store.refresh.rotate({
              hash: "h1",
              successor: tok("x"),
              now: T + 3,
              graceMs: 10_000,
            })
          ).kind,
        ).toBe("reused");
      });

      it("idle-expired tokens, expired and revoked families are invalid and change nothing", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        expect(
          (
            await store.refresh.rotate({
              hash: "h1",
              successor: tok("h2"),
              now: T + 50_000,
              graceMs: 0,
            })
          ).kind,
        ).toBe("invalid");
        await store.refresh.createFamily(fam("f2", { expiresAt: T + 10 }), tok("g1", "f2"));
        expect(
          (
            await store.refresh.rotate({
              hash: "g1",
              successor: tok("g2", "f2"),
              now: T + 10,
              graceMs: 0,
            })
          ).kind,
        ).toBe("invalid");
        await store.refresh.createFamily(fam("f3"), tok("k1", "f3"));
        await store.refresh.revokeFamily("f3", T + 1);
        expect(
          (
            await store.refresh.rotate({
              hash: "k1",
              successor: tok("k2", "f3"),
              now: T + 2,
              graceMs: 0,
            })
          ).kind,
        ).toBe("invalid");
        expect(await store.refresh.findToken("k2")).toBeUndefined();
      });

      it("20 parallel rotations of one token: exactly one rotates, the rest replay", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        const outcomes = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.refresh.rotate({
              hash: "h1",
              successor: tok(`s${i}`),
              now: T + 5,
              graceMs: 10_000,
            }),
          ),
        );
        expect(outcomes.filter((o) => o.kind === "rotated")).toHaveLength(1);
        expect(outcomes.filter((o) => o.kind === "replayed")).toHaveLength(19);
      });

      it("revokes a user's live families only, and remembers issued access tokens", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        await store.refresh.createFamily(fam("f2", { userId: "u2" }), tok("h2", "f2"));
        await store.refresh.createFamily(fam("f3", { expiresAt: T + 1 }), tok("h3", "f3"));
        const revoked = await store.refresh.revokeUserFamilies("u1", T + 5);
        expect(revoked.map((f) => f.id)).toEqual(["f1"]);
        expect((await store.refresh.findFamily("f2"))?.revokedAt).toBeUndefined();
        expect(await store.refresh.revokeUserFamilies("u1", T + 6)).toEqual([]);

        await store.refresh.recordAccessToken("f2", {
          kind: "jwt",
          id: "jti-1",
          exp: (T + 60_000) / 1000,
        });
        await store.refresh.recordAccessToken("f2", {
          kind: "opaque",
          id: "hash-1",
          exp: (T + 1000) / 1000,
        });
        expect(await store.refresh.accessTokens("f2", T)).toEqual(
          [
            { kind: "opaque", id: "hash-1", exp: (T + 1000) / 1000 },
            { kind: "jwt", id: "jti-1", exp: (T + 60_000) / 1000 },
          ].sort((a, b) => a.exp - b.exp),
        );
        expect(await store.refresh.accessTokens("f2", T + 1000)).toEqual([
          { kind: "jwt", id: "jti-1", exp: (T + 60_000) / 1000 },
        ]);
      });

      it("revokes only one client's families of a user when asked", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        await store.refresh.createFamily(fam("f2", { clientId: "other" }), tok("h2", "f2"));
        const revoked = await store.refresh.revokeUserFamilies("u1", T + 5, "other");
        expect(revoked.map((f) => f.id)).toEqual(["f2"]);
        expect((await store.refresh.findFamily("f1"))?.revokedAt).toBeUndefined();
      });

      it("round-trips the client generation a family was given under", async () => {
        await store.refresh.createFamily(fam("f1", { clientGeneration: "g1" }), tok("h1"));
        expect((await store.refresh.findFamily("f1"))?.clientGeneration).toBe("g1");
        expect((await store.refresh.findToken("h1"))?.family.clientGeneration).toBe("g1");
        await store.refresh.createFamily(fam("f2"), tok("h2", "f2"));
        const f2 = await store.refresh.findFamily("f2");
        expect(f2 !== undefined && "clientGeneration" in f2).toBe(false);
      });

      it("revokes every live family of one client, of every user, and nothing else", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        await store.refresh.createFamily(fam("f2", { userId: "u2" }), tok("h2", "f2"));
        await store.refresh.createFamily(fam("f3", { clientId: "other" }), tok("h3", "f3"));
        await store.refresh.createFamily(fam("f4", { expiresAt: T + 1 }), tok("h4", "f4"));
        await store.refresh.createFamily(fam("f5"), tok("h5", "f5"));
        await store.refresh.revokeFamily("f5", T + 2);
        const revoked = await store.refresh.revokeClientFamilies("app", T + 5);
        expect(revoked.map((f) => f.id).sort()).toEqual(["f1", "f2"]);
        expect(revoked.every((f) => f.revokedAt === T + 5)).toBe(true);
        expect((await store.refresh.findFamily("f1"))?.revokedAt).toBe(T + 5);
        expect((await store.refresh.findFamily("f2"))?.revokedAt).toBe(T + 5);
        expect((await store.refresh.findFamily("f3"))?.revokedAt).toBeUndefined();
        expect((await store.refresh.findFamily("f5"))?.revokedAt).toBe(T + 2);
        expect(await store.refresh.revokeClientFamilies("app", T + 6)).toEqual([]);
        expect(await store.refresh.revokeClientFamilies("nobody", T + 6)).toEqual([]);
      });

      it("narrows the scope of one client's live families and returns all of them", async () => {
        await store.refresh.createFamily(fam("f1", { scope: ["read", "write"] }), tok("h1"));
        await store.refresh.createFamily(
          fam("f2", { userId: "u2", scope: ["read"] }),
          tok("h2", "f2"),
        );
        await store.refresh.createFamily(
          fam("f3", { clientId: "other", scope: ["read", "write"] }),
          tok("h3", "f3"),
        );
        await store.refresh.createFamily(fam("f4", { scope: ["write"] }), tok("h4", "f4"));
        await store.refresh.revokeFamily("f4", T + 1);
        const live = await store.refresh.narrowClientFamilies("app", ["read", "admin"], T + 5);
        expect(byId(live).map((f) => [f.id, f.scope])).toEqual([
          ["f1", ["read"]],
          ["f2", ["read"]],
        ]);
        expect((await store.refresh.findFamily("f1"))?.scope).toEqual(["read"]);
        expect((await store.refresh.findToken("h1"))?.family.scope).toEqual(["read"]);
        expect((await store.refresh.findFamily("f1"))?.revokedAt).toBeUndefined();
        expect((await store.refresh.findFamily("f3"))?.scope).toEqual(["read", "write"]);
        expect(await store.refresh.narrowClientFamilies("app", [], T + 200_000)).toEqual([]);
      });

      it("createFamily refuses an id that is taken, and overwrites nothing", async () => {
        expect(await store.refresh.createFamily(fam("f1"), tok("h1"))).toBe(true);
        expect(await store.refresh.createFamily(fam("f1", { userId: "u2" }), tok("h2"))).toBe(
          false,
        );
        expect(await store.refresh.findFamily("f1")).toEqual(fam("f1"));
        expect(await store.refresh.findToken("h2")).toBeUndefined();
      });

      describe("revoked before it exists (a replayed code's family)", () => {
        it("revoke-before-start leaves the id unusable until the tombstone ends", async () => {
          expect(await store.refresh.revokeFamily("f1", T, T + 600_000)).toBeUndefined();
          expect(await store.refresh.createFamily(fam("f1"), tok("h1"))).toBe(false);
          expect(await store.refresh.findFamily("f1")).toBeUndefined();
          expect(await store.refresh.findToken("h1")).toBeUndefined();
          expect(
            await store.refresh.recordAccessToken("f1", { kind: "jwt", id: "j", exp: 2e9 }),
          ).toBe(false);
          expect(await store.refresh.accessTokens("f1", T)).toEqual([]);
          // A second revocation does not shorten it.
          await store.refresh.revokeFamily("f1", T + 1, T + 10);
          const late = fam("f1", { createdAt: T + 599_999, expiresAt: T + 700_000 });
          expect(await store.refresh.createFamily(late, tok("h1"))).toBe(false);
          // Past its end the tombstone no longer counts, and the sweep removes it.
          const after = fam("f1", { createdAt: T + 600_000, expiresAt: T + 700_000 });
          await store.refresh.sweepFamilies(T + 600_000);
          expect(await store.refresh.createFamily(after, tok("h1"))).toBe(true);
        });

        it("without tombstoneUntil, revoking an unknown id leaves nothing behind", async () => {
          expect(await store.refresh.revokeFamily("f1", T)).toBeUndefined();
          expect(await store.refresh.createFamily(fam("f1"), tok("h1"))).toBe(true);
        });

        it("a tombstone never touches a family that exists", async () => {
          await store.refresh.createFamily(fam("f1"), tok("h1"));
          const revoked = await store.refresh.revokeFamily("f1", T + 5, T + 600_000);
          expect(revoked).toEqual(fam("f1", { revokedAt: T + 5 }));
          expect(await store.refresh.findToken("h1")).toEqual({
            token: tok("h1"),
            family: revoked,
          });
        });
      });

      it("start-then-revoke: tokens recorded before the revocation are listed for killing, later ones refused", async () => {
        await store.refresh.createFamily(fam("f1"), tok("h1"));
        const before = { kind: "jwt" as const, id: "jti-1", exp: (T + 60_000) / 1000 };
        const after = { kind: "opaque" as const, id: "hash-2", exp: (T + 60_000) / 1000 };
        expect(await store.refresh.recordAccessToken("f1", before)).toBe(true);
        await store.refresh.revokeFamily("f1", T + 1, T + 600_000);
        expect(await store.refresh.recordAccessToken("f1", after)).toBe(false);
        expect(await store.refresh.accessTokens("f1", T + 1)).toEqual([before]);
        // Unknown families record nothing either.
        expect(await store.refresh.recordAccessToken("nope", after)).toBe(false);
        expect(await store.refresh.accessTokens("nope", T + 1)).toEqual([]);
      });

      it("sweeps families past their absolute end, with their tokens", async () => {
        await store.refresh.createFamily(fam("f1", { expiresAt: T + 10 }), tok("h1"));
        await store.refresh.createFamily(fam("f2"), tok("h2", "f2"));
        expect(await store.refresh.sweepFamilies(T + 10)).toBe(1);
        expect(await store.refresh.findFamily("f1")).toBeUndefined();
        expect(await store.refresh.findToken("h1")).toBeUndefined();
        expect(await store.refresh.findFamily("f2")).toBeDefined();
      });
    });

    describe("consents", () => {
      it("puts, finds, lists, replaces and deletes per (user, client)", async () => {
        await store.consents.putConsent({
          userId: "u1",
          clientId: "a",
          scopes: ["read"],
          grantedAt: 1,
        });
        await store.consents.putConsent({
          userId: "u1",
          clientId: "b",
          scopes: ["x"],
          grantedAt: 2,
        });
        await store.consents.putConsent({
          userId: "u2",
          clientId: "a",
          scopes: ["y"],
          grantedAt: 3,
        });
        expect(await store.consents.findConsent("u1", "a")).toEqual({
          userId: "u1",
          clientId: "a",
          scopes: ["read"],
          grantedAt: 1,
        });
        await store.consents.putConsent({
          userId: "u1",
          clientId: "a",
          scopes: ["read", "write"],
          grantedAt: 4,
        });
        expect((await store.consents.findConsent("u1", "a"))?.scopes).toEqual(["read", "write"]);
        expect((await store.consents.listConsents("u1")).map((c) => c.clientId)).toEqual([
          "b",
          "a",
        ]);
        expect(await store.consents.deleteConsent("u1", "a")).toBe(true);
        expect(await store.consents.deleteConsent("u1", "a")).toBe(false);
        expect(await store.consents.findConsent("u1", "a")).toBeUndefined();
        expect(await store.consents.findConsent("u2", "a")).toBeDefined();
      });

      it("round-trips the client generation a consent was given under", async () => {
        await store.consents.putConsent({
          userId: "u1",
          clientId: "a",
          scopes: ["read"],
          grantedAt: 1,
          clientGeneration: "g1",
        });
        expect((await store.consents.findConsent("u1", "a"))?.clientGeneration).toBe("g1");
        expect((await store.consents.listConsents("u1"))[0]?.clientGeneration).toBe("g1");
        await store.consents.putConsent({ userId: "u1", clientId: "a", scopes: [], grantedAt: 2 });
        const c = await store.consents.findConsent("u1", "a");
        expect(c !== undefined && "clientGeneration" in c).toBe(false);
      });

      it("deletes and narrows every consent given to one client", async () => {
        const put = (userId: string, clientId: string, scopes: string[]) =>
          store.consents.putConsent({ userId, clientId, scopes, grantedAt: 1 });
        await put("u1", "a", ["read", "write"]);
        await put("u2", "a", ["read"]);
        await put("u3", "a", ["write", "admin"]);
        await put("u1", "b", ["read", "write"]);
        expect(await store.consents.narrowClientConsents("a", ["read", "admin"])).toBe(2);
        expect((await store.consents.findConsent("u1", "a"))?.scopes).toEqual(["read"]);
        expect((await store.consents.findConsent("u2", "a"))?.scopes).toEqual(["read"]);
        expect((await store.consents.findConsent("u3", "a"))?.scopes).toEqual(["admin"]);
        expect((await store.consents.findConsent("u1", "b"))?.scopes).toEqual(["read", "write"]);
        expect(await store.consents.narrowClientConsents("a", ["read", "admin"])).toBe(0);
        expect(await store.consents.deleteClientConsents("a")).toBe(3);
        expect(await store.consents.findConsent("u1", "a")).toBeUndefined();
        expect(await store.consents.listConsents("u2")).toEqual([]);
        expect((await store.consents.findConsent("u1", "b"))?.scopes).toEqual(["read", "write"]);
        expect(await store.consents.deleteClientConsents("a")).toBe(0);
      });
    });
  });
}
