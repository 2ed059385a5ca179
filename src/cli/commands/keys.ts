import type { Config } from "../../config/defaults.js";
import { TesseraError } from "../../errors.js";
import { SIGNING_ALGS } from "../../keys/keys.js";
import type { SigningAlg } from "../../store/types.js";
import {
  type Options,
  positionalArgs,
  rejectUnknown,
  stringOption,
  unknownSubcommand,
  withTessera,
} from "../flags.js";
import type { CliIo } from "../io.js";

/** `keys list | keys rotate [--alg ALG]`: the signing keys (publish before sign). */
export async function keysCommand(
  config: Config,
  sub: string | undefined,
  args: string[],
  unknown: Options,
  io: CliIo,
): Promise<number> {
  positionalArgs(`keys ${sub ?? ""}`.trim(), args, []);
  switch (sub) {
    case "list":
      rejectUnknown(unknown, []);
      return withTessera(config, io, async (t) => {
        io.out("kid\talg\tstate\tcreated\tsigns from\tretires\tremoved after\tsigns");
        for (const k of t.keys.list()) {
          const at = (ms: number | undefined) =>
            ms === undefined ? "-" : new Date(ms).toISOString();
          io.out(
            [
              k.kid,
              k.alg,
              k.state,
              at(k.createdAt),
              at(k.activatesAt),
              at(k.retiredAt),
              at(k.removeAfter),
              // A companion signs ID tokens only (src/keys/companion.ts).
              k.purpose === "id_token" ? "id tokens" : "access and id tokens",
            ].join("\t"),
          );
        }
        return 0;
      });
    case "rotate": {
      rejectUnknown(unknown, ["alg"]);
      // --alg, else --signing-alg when given; else the current key's algorithm stays.
      const alg =
        stringOption("alg", unknown.get("alg")) ??
        (config.sources.signingAlg === undefined ? undefined : config.signingAlg);
      if (alg !== undefined && !SIGNING_ALGS.includes(alg as SigningAlg)) {
        throw new TesseraError(
          "invalid_request",
          `--alg must be one of ${SIGNING_ALGS.join(", ")}`,
        );
      }
      return withTessera(config, io, async (t) => {
        const k = await t.keys.rotate(alg as SigningAlg | undefined);
        io.out(
          `new ${k.alg} key ${k.kid}: published now, signs from ${new Date(k.activatesAt).toISOString()}`,
        );
        io.out("the previous key stays published until every token it signed has expired");
        return 0;
      });
    }
    default:
      throw unknownSubcommand("keys", sub);
  }
}
