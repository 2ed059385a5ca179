import { randomBytes } from "node:crypto";
import { envName, flagName, SETTINGS, type SettingKey } from "../config/defaults.js";
import { assertSafeToServe, loadConfig, parseFlags } from "../config/load.js";
import { TesseraError } from "../errors.js";
import { buildServer } from "../server/app.js";
import { Tessera } from "../tessera.js";

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage: tessera <command> [options]

Commands:
  serve [--port 4000] [--host 127.0.0.1] [--data DIR] [--db URL] [--redis URL]
        [--issuer URL] [--trust-proxy [HOPS]] [--demo]   run the auth server
  user add NAME --password-stdin [--roles a,b]            create a user
  user list                                               list users
  user disable NAME | user enable NAME                    disabling ends every session
  user roles NAME --set a,b                               replace roles (sessions get a new id)
  user password NAME --password-stdin                     set a password; ends every session
  help                                                    this text

Every option also reads TESSERA_<OPTION> from the environment (flags win).
All settings: see the README's configuration table, or \`tessera help settings\`.`;

/** Runs one CLI command; returns the exit code. Throws TesseraError for user errors. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { settings, positionals, unknown } = parseFlags(argv, ["password-stdin", "help"]);
  const [command, sub, ...rest] = positionals;
  if (command === undefined || command === "help" || unknown.has("help")) {
    io.out(sub === "settings" ? settingsHelp() : USAGE);
    return 0;
  }
  const config = loadConfig(settings, io.env);
  switch (command) {
    case "serve":
      rejectUnknown(unknown, []);
      return serve(config, io);
    case "user":
      return userCommand(config, sub, rest, unknown, io);
    default:
      throw new TesseraError("invalid_request", `unknown command "${command}"; see tessera help`);
  }
}

function rejectUnknown(unknown: Map<string, string | true>, allowed: string[]): void {
  for (const name of unknown.keys()) {
    if (!allowed.includes(name)) {
      throw new TesseraError("invalid_request", `unknown option --${name}; see tessera help`);
    }
  }
}

function settingsHelp(): string {
  return (Object.keys(SETTINGS) as SettingKey[])
    .map((k) => `--${flagName(k)} (${envName(k)}): ${SETTINGS[k].doc}`)
    .join("\n");
}

async function serve(config: ReturnType<typeof loadConfig>, io: CliIo): Promise<number> {
  assertSafeToServe(config);
  if (config.db.startsWith("memory")) {
    io.err(
      "WARNING: --db memory: keeps users and sessions in this process only; everything is lost on exit. For tests, never production.",
    );
  }
  const tessera = await Tessera.open({ config });
  await tessera.hasher.warmUp();
  if (config.demo) await ensureDemoUser(tessera, io);
  const app = await buildServer(tessera);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, "shutting down");
    await app.close();
    await tessera.close();
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  io.out(
    `Tessera listening on http://${hostForUrl(config.host)}:${port} (issuer ${config.issuer})`,
  );
  return 0;
}

function hostForUrl(host: string): string {
  if (host === "127.0.0.1" || host === "::1") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}

const DEMO_USER = "demo";

async function ensureDemoUser(tessera: Tessera, io: CliIo): Promise<void> {
  if (await tessera.users.findByName(DEMO_USER)) {
    io.out(`Demo user "${DEMO_USER}" exists (its password was printed when it was created).`);
    return;
  }
  const password = randomBytes(15).toString("base64url");
  await tessera.users.create({ username: DEMO_USER, password });
  io.out("");
  io.out(`  Demo user created: username "${DEMO_USER}", password "${password}"`);
  io.out("  (shown once; it is stored only as an argon2id hash)");
  io.out("");
}

async function readPassword(io: CliIo): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > 64 * 1024) throw new TesseraError("password_too_long");
    chunks.push(b);
  }
  // One trailing newline (from echo or a heredoc) is not part of the password.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

async function userCommand(
  config: ReturnType<typeof loadConfig>,
  sub: string | undefined,
  args: string[],
  unknown: Map<string, string | true>,
  io: CliIo,
): Promise<number> {
  const needName = (): string => {
    const name = args[0];
    if (name === undefined) throw new TesseraError("invalid_request", `user ${sub} needs a NAME`);
    return name;
  };
  const tessera = await Tessera.open({ config });
  try {
    switch (sub) {
      case "add": {
        rejectUnknown(unknown, ["password-stdin", "roles"]);
        const name = needName();
        if (unknown.get("password-stdin") !== true) {
          throw new TesseraError(
            "invalid_request",
            "user add needs --password-stdin (passwords are never taken as arguments)",
          );
        }
        const roles = listOption(unknown.get("roles"));
        const user = await tessera.users.create({
          username: name,
          password: await readPassword(io),
          roles,
        });
        io.out(`created user ${user.username} (id ${user.id})`);
        return 0;
      }
      case "list": {
        rejectUnknown(unknown, []);
        for (const u of await tessera.users.list()) {
          const state = u.disabled ? "disabled" : "active";
          io.out(
            `${u.id}\t${u.username}\t${state}\t${u.roles.join(",") || "-"}\t${new Date(u.createdAt).toISOString()}`,
          );
        }
        return 0;
      }
      case "disable":
      case "enable": {
        rejectUnknown(unknown, []);
        const user =
          sub === "disable"
            ? await tessera.disableUser(needName())
            : await tessera.enableUser(needName());
        io.out(`${sub}d user ${user.username}${sub === "disable" ? "; every session ended" : ""}`);
        return 0;
      }
      case "roles": {
        rejectUnknown(unknown, ["set"]);
        const set = unknown.get("set");
        if (set === undefined)
          throw new TesseraError("invalid_request", "user roles needs --set a,b (or --set '')");
        const user = await tessera.users.setRoles(needName(), listOption(set));
        io.out(`roles of ${user.username}: ${user.roles.join(",") || "(none)"}`);
        return 0;
      }
      case "password": {
        rejectUnknown(unknown, ["password-stdin"]);
        if (unknown.get("password-stdin") !== true) {
          throw new TesseraError("invalid_request", "user password needs --password-stdin");
        }
        const user = await tessera.users.require(needName());
        await tessera.users.setPassword(user, await readPassword(io));
        await tessera.revokeAllForUser(user.id);
        io.out(`password of ${user.username} changed; every session ended`);
        return 0;
      }
      default:
        throw new TesseraError(
          "invalid_request",
          `unknown user command "${sub ?? ""}"; see tessera help`,
        );
    }
  } finally {
    await tessera.close();
  }
}

function listOption(value: string | true | undefined): string[] {
  if (value === undefined || value === true) return [];
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
