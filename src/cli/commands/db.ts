import type { Config } from "../../config/defaults.js";
import { TesseraError } from "../../errors.js";
import { migrateSchema } from "../../installation/schema.js";
import { type Options, positionalArgs, rejectUnknown } from "../flags.js";
import type { CliIo } from "../io.js";

/** `db migrate`: brings the durable store's schema to this version of Tessera. */
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
    default:
      throw new TesseraError(
        "invalid_request",
        `unknown db command "${sub ?? ""}"; see tessera help`,
      );
  }
}
