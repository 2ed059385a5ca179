import { afterAll } from "vitest";
import type { ManualClock } from "../../src/clock.js";
import type { EventLogOptions } from "../../src/store/event-log.js";
import { PostgresStore } from "../../src/store/postgres/index.js";
import {
  describePostgres,
  dropSchema,
  emptySchema,
  freshSchema,
  requirePostgresUrl,
} from "../support/postgres.js";
import { durableContract, storeContract } from "./contract.js";

describePostgres("PostgresStore", () => {
  // One schema for the file, migrated by the first store and emptied after each test:
  // migrating a schema per test would cost more than the tests themselves.
  const schema = freshSchema();
  afterAll(() => dropSchema(schema));

  let migrated = false;
  const open = async (clock: ManualClock, log: EventLogOptions = {}) => {
    const store = await PostgresStore.connect({
      url: requirePostgresUrl(),
      schema,
      clock,
      sweepIntervalMs: 0,
      migrate: !migrated,
      ...log,
    });
    migrated = true;
    return {
      store,
      async close() {
        await store.close();
        await emptySchema(schema);
      },
    };
  };

  storeContract("postgres", open);
  durableContract("postgres", open);
});
