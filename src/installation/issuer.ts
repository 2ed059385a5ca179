import type { Config } from "../config/defaults.js";
import { envName } from "../config/defaults.js";
import { TesseraError } from "../errors.js";
import type { InstallationStore } from "../store/types.js";

/** Something the operator should read once, at start (logged by `serve`). */
export interface Notice {
  level: "info" | "warn";
  message: string;
}

export interface ResolvedIssuer {
  issuer: string;
  notices: Notice[];
}

function given(config: Config): string | undefined {
  const source = config.sources.issuer;
  if (source === "flag") return "--issuer";
  if (source === "env") return envName("issuer");
  return undefined;
}

/**
 * The issuer of an installation: one value every process of it uses, so a revocation
 * made by any command reaches guards under the `iss` they were configured for.
 *
 * - The first `serve` records its issuer (explicit or derived) with the durable data;
 *   two servers starting at once agree on one (the first write wins).
 * - Afterwards every command uses the recorded issuer. A value derived from `--port`
 *   never changes it (`serve` says so in one line); an explicit `--issuer` or
 *   `TESSERA_ISSUER` that differs is refused, unless it is `serve --issuer NEW
 *   --change-issuer`, which records NEW.
 * - Before any `serve` (an installation made with `--init`), other commands use what
 *   they are given (nothing has been issued yet under any issuer) and record nothing.
 */
export async function resolveIssuer(
  store: InstallationStore,
  config: Config,
  serve: boolean,
): Promise<ResolvedIssuer> {
  const wanted = config.issuer;
  const explicit = given(config);
  if (config.changeIssuer) {
    if (!serve) {
      throw new TesseraError(
        "config_invalid",
        "--change-issuer is for `tessera serve --issuer URL --change-issuer` only",
      );
    }
    if (explicit === undefined) {
      throw new TesseraError(
        "config_invalid",
        "--change-issuer needs --issuer URL: the issuer to record for this installation",
      );
    }
  }
  const recorded = serve
    ? await store.initSetting("issuer", wanted)
    : await store.getSetting("issuer");
  if (recorded === undefined || recorded === wanted) return { issuer: wanted, notices: [] };
  if (explicit === undefined) {
    const notices: Notice[] = serve
      ? [
          {
            level: "warn",
            message:
              `issuer: ${recorded}, the issuer recorded for this installation ` +
              `(this start alone would have derived ${wanted} from its port). ` +
              `Pass --issuer ${recorded} to say so; to change it deliberately, ` +
              "serve --issuer NEW --change-issuer.",
          },
        ]
      : [];
    return { issuer: recorded, notices };
  }
  if (serve && config.changeIssuer) {
    await store.putSetting("issuer", wanted);
    return {
      issuer: wanted,
      notices: [
        {
          level: "warn",
          message:
            `issuer changed from ${recorded} to ${wanted} (--change-issuer): guards configured ` +
            `for ${recorded} no longer accept this server's tokens or revocations; restart ` +
            `every other instance with --issuer ${wanted}.`,
        },
      ],
    };
  }
  throw new TesseraError(
    "config_invalid",
    `${explicit} is ${wanted}, but this installation's issuer is ${recorded} ` +
      "(recorded with its data at its first serve; every command uses it). " +
      `Drop ${explicit} (or set it to ${recorded}) to keep it; to change the issuer ` +
      `deliberately, run \`tessera serve --issuer ${wanted} --change-issuer\` ` +
      "and reconfigure every guard.",
  );
}
