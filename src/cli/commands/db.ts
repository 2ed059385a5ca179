import { join, resolve } from "node:path";
import type { Config } from "../../config/defaults.js";
import { TesseraError } from "../../errors.js";
import { copyToPostgres, migrateSchema } from "../../installation/schema.js";
import { isPostgresUrl } from "../../store/open.js";
import {
  type Options,
  positionalArgs,
  rejectUnknown,
  stringOption,
  unknownSubcommand,
} from "../flags.js";
import type { CliIo } from "../io.js";

/**
 * `db migrate`: brings the durable store's schema to this version of Tessera.
 * `db copy [--from sqlite:PATH] [--to postgres://…]`: moves an installation to PostgreSQL
 * (from the data directory's file, to `--db` / `TESSERA_DB` by default).
 */
export async function dbCommand(
  config: Config,
  sub: string | undefined,
  args: string[],
  unknown: Options,
  io: CliIo,
): Promise<number> {
  switch (sub) {
    case "migrate": {
      positionalArgs("db migrate", args, []);
      rejectUnknown(unknown, []);
      const r = await migrateSchema(config);
      if (r.backend === "memory") {
        io.out("memory: no schema to migrate");
        return 0;
      }
      io.out(
        r.applied.length === 0
          ? `${r.backend} schema at version ${r.to}: up to date`
          : `${r.backend} schema at version ${r.to} (was ${r.from}; applied ${r.applied.join(", ")})`,
      );
      return 0;
    }
    case "copy": {
      positionalArgs("db copy", args, []);
      rejectUnknown(unknown, ["from", "to"]);
      const from =
        stringOption("from", unknown.get("from")) ??
        `sqlite:${join(resolve(config.data), "tessera.db")}`;
      const to =
        stringOption("to", unknown.get("to")) ?? (isPostgresUrl(config.db) ? config.db : undefined);
      if (to === undefined) {
        throw new TesseraError(
          "invalid_request",
          "db copy needs --to postgres://… (or TESSERA_DB set to one)",
        );
      }
      const r = await copyToPostgres(config, from, to);
      io.out(
        `copied: ${r.users} users, ${r.clients} clients, ${r.keys} signing keys, ` +
          `${r.settings} settings, ${r.consents} consents, ${r.families} refresh families ` +
          `(${r.refreshTokens} tokens), ${r.records} live records, ${r.events} revocation events, ` +
          `${r.keptRevocations} kept revocations, ${r.auditEvents} audit records`,
      );
      io.out("start the instances on PostgreSQL with the same TESSERA_SECRET or <data>/secret.key");
      return 0;
    }
    default:
      throw unknownSubcommand("db", sub);
  }
}
