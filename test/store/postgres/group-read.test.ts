/**
 * Grouped reads by key (src/store/postgres/group-read.ts), as the PostgreSQL client store
 * uses them: the reads of one turn go in one statement, a few statements at a time, and a
 * read is never answered by a statement sent before it was asked for (so it sees whatever
 * was committed before it was asked for); a refused group is read again key by key; an
 * unreachable store fails the group at once. The fake reads stand for the pool; the last
 * suite runs the client store against a real PostgreSQL.
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../../src/clock.js";
import { TesseraError } from "../../../src/errors.js";
import type { Db } from "../../../src/store/postgres/db.js";
import {
  GroupRead,
  MAX_GROUP_READ,
  MAX_GROUPS_IN_FLIGHT,
} from "../../../src/store/postgres/group-read.js";
import { PostgresStore } from "../../../src/store/postgres/index.js";
import type { ClientRecord } from "../../../src/store/types.js";
import {
  adminQuery,
  describePostgres,
  dropSchema,
  freshSchema,
  requirePostgresUrl,
} from "../../support/postgres.js";

interface Call {
  keys: string[];
  finish(outcome: Map<string, { v: string }> | Error): void;
}

/** Reads whose statements wait until the test finishes them. */
function heldReads() {
  const calls: Call[] = [];
  const held = (keys: string[]) =>
    new Promise<Map<string, { v: string }>>((resolve, reject) => {
      calls.push({
        keys,
        finish: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)),
      });
    });
  const reads = new GroupRead<{ v: string }, { v: string }>(
    async (key) => (await held([key])).get(key),
    held,
    (row) => row,
  );
  return { reads, calls };
}

const turn = () => new Promise((r) => setImmediate(r));
const rows = (...keys: string[]) => new Map(keys.map((k) => [k, { v: `row ${k}` }]));
const outcome = (p: Promise<{ v: string } | undefined>) =>
  p.then(
    (r) => r?.v ?? "none",
    (e: unknown) => (e instanceof TesseraError ? e.code : "?"),
  );

describe("GroupRead", () => {
  it("reads the keys asked for in one turn with one statement; absent keys read as undefined", async () => {
    const { reads, calls } = heldReads();
    const results = ["a", "b", "c"].map((k) => outcome(reads.read(k)));
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([["a", "b", "c"]]);
    calls[0]?.finish(rows("a", "c"));
    expect(await Promise.all(results)).toEqual(["row a", "none", "row c"]);
  });

  it("a read asked for while a statement is under way is never answered by it: it gets a statement of its own", async () => {
    const { reads, calls } = heldReads();
    const first = outcome(reads.read("a"));
    await turn();
    expect(calls).toHaveLength(1);
    // Asked for after the first statement was sent: it must not be answered by it.
    const later = outcome(reads.read("b"));
    await turn();
    expect(calls.map((c) => c.keys)).toEqual([["a"], ["b"]]);
    calls[0]?.finish(rows("a", "b"));
    expect(await first).toBe("row a");
    calls[1]?.finish(rows("b"));
    expect(await later).toBe("row b");
  });

  it("at most MAX_GROUPS_IN_FLIGHT statements at once: reads asked for meanwhile wait, then go together", async () => {
    const { reads, calls } = heldReads();
    const early: Promise<string>[] = [];
    for (let i = 0; i < MAX_GROUPS_IN_FLIGHT; i++) {
      early.push(outcome(reads.read(`k${i}`)));
      await turn();
    }
    expect(calls).toHaveLength(MAX_GROUPS_IN_FLIGHT);
    const waiting = ["x", "y"].map((k) => outcome(reads.read(k)));
    await turn();
    await turn();
    expect(calls).toHaveLength(MAX_GROUPS_IN_FLIGHT);
    calls[0]?.finish(rows("k0"));
    await turn();
    await turn();
    expect(calls.map((c) => c.keys).at(-1)).toEqual(["x", "y"]);
    for (const [i, c] of calls.slice(1, MAX_GROUPS_IN_FLIGHT).entries())
      c.finish(rows(`k${i + 1}`));
    calls.at(-1)?.finish(rows("x", "y"));
    expect(await Promise.all(early)).toEqual(early.map((_, i) => `row k${i}`));
    expect(await Promise.all(waiting)).toEqual(["row x", "row y"]);
  });

  it("one key asked for twice in a turn: one statement, each caller its own value of the row", async () => {
    const reads = new GroupRead<{ v: string[] }, { v: string[] }>(
      async () => undefined,
      async (keys) => new Map(keys.map((k) => [k, { v: [k] }])),
      (row) => ({ v: [...row.v] }),
    );
    const [x, y] = await Promise.all([reads.read("a"), reads.read("a")]);
    expect(x).toEqual({ v: ["a"] });
    expect(y).toEqual({ v: ["a"] });
    expect(x?.v).not.toBe(y?.v);
  });

  it("a group the server refuses is read again key by key: only the failing key fails", async () => {
    const { reads, calls } = heldReads();
    const results = ["a", "b", "c"].map((k) => outcome(reads.read(k)));
    await turn();
    calls[0]?.finish(new TesseraError("server_error", "PostgreSQL rejected a store command."));
    for (const [i, key] of ["a", "b", "c"].entries()) {
      await turn();
      const call = calls[1 + i];
      expect(call?.keys).toEqual([key]);
      call?.finish(key === "b" ? new TesseraError("server_error", "refused") : rows(key));
    }
    expect(await Promise.all(results)).toEqual(["row a", "server_error", "row c"]);
  });

  it("an unreachable store fails the whole group at once (503), without a read per key", async () => {
    const { reads, calls } = heldReads();
    const results = ["a", "b"].map((k) => outcome(reads.read(k)));
    await turn();
    calls[0]?.finish(new TesseraError("store_unavailable", "down", { retryAfter: 1 }));
    expect(await Promise.all(results)).toEqual(["store_unavailable", "store_unavailable"]);
    expect(calls).toHaveLength(1);
  });

  it("at most MAX_GROUP_READ keys a statement; the rest go in the next", async () => {
    const { reads, calls } = heldReads();
    const keys = Array.from({ length: MAX_GROUP_READ + 1 }, (_, i) => `k${i}`);
    const all = keys.map((k) => outcome(reads.read(k)));
    await turn();
    expect(calls[0]?.keys).toHaveLength(MAX_GROUP_READ);
    calls[0]?.finish(rows(...keys.slice(0, MAX_GROUP_READ)));
    await turn();
    await turn();
    expect(calls[1]?.keys).toEqual([`k${MAX_GROUP_READ}`]);
    calls[1]?.finish(rows(`k${MAX_GROUP_READ}`));
    expect(await Promise.all(all)).toEqual(keys.map((k) => `row ${k}`));
  });
});

const client = (id: string): ClientRecord => ({
  id,
  secretHash: `hash-${id}`,
  grants: ["client_credentials"],
  tokenFormat: "jwt",
  audience: ["https://api.example.com"],
  scopes: ["read"],
  introspect: false,
  redirectUris: [],
  firstParty: false,
  fingerprint: false,
  generation: `gen-${id}`,
  accessTokensValidAfter: 1000,
  createdAt: 1000,
  updatedAt: 1000,
});

describePostgres("PostgreSQL client store: grouped reads, real PostgreSQL", () => {
  const schema = freshSchema();
  afterAll(() => dropSchema(schema));

  it("the client reads of one turn are one statement; a client removed before it is read is absent, the others found", async () => {
    const store = await PostgresStore.connect({
      url: requirePostgresUrl(),
      schema,
      clock: new ManualClock(),
      sweepIntervalMs: 0,
    });
    try {
      for (const id of ["a", "b", "c"]) await store.clients.createClient(client(id));
      // Removed by "another instance": committed before the reads are asked for.
      await adminQuery(`DELETE FROM ${schema}.clients WHERE id = 'b'`);
      const db = (store as unknown as { db: Db }).db;
      const query = vi.spyOn(db, "query");
      const found = await Promise.all(
        ["a", "b", "c", "a"].map((id) => store.clients.findClient(id)),
      );
      expect(query).toHaveBeenCalledTimes(1);
      expect(found).toEqual([client("a"), undefined, client("c"), client("a")]);
      // One row answered both reads of "a": each got a record of its own.
      expect(found[3]).not.toBe(found[0]);
      expect(found[3]?.grants).not.toBe(found[0]?.grants);
      query.mockRestore();
      // Alone, a read is the one-row statement, as before.
      expect(await store.clients.findClient("c")).toEqual(client("c"));
      expect(await store.clients.findClient("b")).toBeUndefined();
      // An id PostgreSQL refuses (a NUL byte: not valid text) fails alone, as it did
      // before grouping; the read grouped with it is answered.
      const code = (p: Promise<unknown>) =>
        p.then(
          () => "ok",
          (e: unknown) => (e instanceof TesseraError ? e.code : "?"),
        );
      const alone = await code(store.clients.findClient("x\u0000y"));
      const grouped = await Promise.all([
        code(store.clients.findClient("a")),
        code(store.clients.findClient("x\u0000y")),
      ]);
      expect(alone).not.toBe("ok");
      expect(grouped).toEqual(["ok", alone]);
    } finally {
      await store.close();
    }
  });
});
