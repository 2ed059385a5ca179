/**
 * A connection that PostgreSQL ends while a transaction holds it (a restart, a failover,
 * an administrator's pg_terminate_backend): the transaction fails with `store_unavailable`
 * (503 to the client) and the pool goes on. Never an unhandled 'error' event: `pg` emits
 * one on a checked-out client whose connection ends, and without a listener it would
 * crash the whole process — every request in flight on the instance lost with it.
 */
import { afterEach, expect, it } from "vitest";
import { TesseraError } from "../../../src/errors.js";
import { Db } from "../../../src/store/postgres/db.js";
import { adminQuery, describePostgres, requirePostgresUrl } from "../../support/postgres.js";

describePostgres("PostgreSQL connection ended mid-transaction", () => {
  let db: Db | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  it("the transaction answers store_unavailable, nothing crashes, and the next one succeeds", async () => {
    db = new Db({ url: requirePostgresUrl(), applicationName: "tessera-terminated-test" });
    const failed = db.tx(async (query) => {
      const { rows } = await query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      await adminQuery("SELECT pg_terminate_backend($1)", [rows[0]?.pid]);
      // The connection's end arrives while the transaction still holds it.
      await new Promise((r) => setTimeout(r, 200));
      await query("SELECT 1");
    });
    const err = await failed.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TesseraError);
    expect((err as TesseraError).code).toBe("store_unavailable");
    expect((await db.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });
});
