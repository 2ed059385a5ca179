import { loadConfig, parseFlags } from "../config/load.js";
import { TesseraError } from "../errors.js";
import { auditCommand } from "./commands/audit.js";
import { bffCommand } from "./commands/bff.js";
import { clientCommand } from "./commands/client.js";
import { dbCommand } from "./commands/db.js";
import { helpText } from "./commands/help.js";
import { keysCommand } from "./commands/keys.js";
import { prepareServe, serveCommand } from "./commands/serve.js";
import { tokenCommand } from "./commands/token.js";
import { userCommand } from "./commands/user.js";
import { BOOLEAN_FLAGS } from "./flags.js";
import type { CliIo } from "./io.js";

export type { CliIo } from "./io.js";

/**
 * Runs one CLI command; returns the exit code. Throws TesseraError for user errors.
 * Each command group is a file in ./commands; the flag parsing they share is ./flags.ts.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // The BFF is a client of Tessera, not an installation: flags of its own (commands/bff.ts).
  if (argv[0] === "bff") return bffCommand(argv.slice(1), io);
  const { settings, positionals, unknown } = parseFlags(argv, BOOLEAN_FLAGS);
  const [command, sub, ...rest] = positionals;
  if (command === undefined || command === "help" || unknown.has("help")) {
    io.out(helpText(sub));
    return 0;
  }
  if (command === "serve") await prepareServe(settings, positionals.slice(1), unknown, io.env);
  const config = loadConfig(settings, io.env);
  switch (command) {
    case "serve":
      return serveCommand(config, io);
    case "user":
      return userCommand(config, sub, rest, unknown, io);
    case "client":
      return clientCommand(config, sub, rest, unknown, io);
    case "keys":
      return keysCommand(config, sub, rest, unknown, io);
    case "token":
      return tokenCommand(sub, rest, unknown, io);
    case "db":
      return dbCommand(config, sub, rest, unknown, io);
    case "audit":
      return auditCommand(config, positionals.slice(1), unknown, io);
    default:
      throw new TesseraError("invalid_request", `unknown command "${command}"; see tessera help`);
  }
}
