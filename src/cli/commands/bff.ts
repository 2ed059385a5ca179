/**
 * `tessera bff --issuer URL --client-id ID --upstream NAME=URL … [--port 5173]`: the
 * Backend-for-Frontend as a process of its own (src/bff). The client secret comes from
 * `TESSERA_BFF_CLIENT_SECRET` or, with `--client-secret-stdin`, from stdin: never from an
 * argument (it would show in `ps`). Every flag also reads `TESSERA_BFF_<FLAG>` (flags win;
 * `--upstream` there is a comma-separated list).
 */
import { readFileSync } from "node:fs";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { tesseraBff } from "../../bff/index.js";
import {
  BFF_LIMITS,
  type BffLimitName,
  type BffOptions,
  parseUpstream,
} from "../../bff/options.js";
import { TesseraError } from "../../errors.js";
import { createLogger } from "../../server/logger.js";
import { RequestLog } from "../../server/request-log.js";
import { readPassword } from "../flags.js";
import type { CliIo } from "../io.js";

/** The flags of `tessera bff` besides the limits (BFF_LIMITS), each taking a value. */
const VALUE_FLAGS = [
  "issuer",
  "issuer-url",
  "client-id",
  "upstream",
  "port",
  "host",
  "public-url",
  "scope",
  "db",
  "redis",
  "ca-file",
] as const;
const SWITCHES = ["client-secret-stdin", "no-revocations", "demo", "help"] as const;

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envOf = (flag: string) => `TESSERA_BFF_${flag.replaceAll("-", "_").toUpperCase()}`;

export const BFF_USAGE = `Usage: tessera bff --issuer URL --client-id ID --upstream NAME=URL [--upstream NAME=URL …]
        [--port 5173] [--host 127.0.0.1] [--public-url URL] [--scope "a b"]
        [--db sqlite:PATH|postgres://…|memory:] [--redis redis://…] [--issuer-url URL]
        [--ca-file FILE]  (PEM CA certificates that verify Tessera's https certificate)
        [--client-secret-stdin] [--no-revocations] [--demo] [--${(Object.keys(BFF_LIMITS) as string[]).map(kebab).join(" N] [--")} N]

The client secret: TESSERA_BFF_CLIENT_SECRET, or stdin with --client-secret-stdin.
Register the client at Tessera first (a confidential, first-party client that may follow
the revocation feed):
  tessera client add ID --grants authorization_code,refresh_token --audience AUD \\
    --redirect-uri PUBLIC_URL/bff/callback --first-party --introspect
Every flag also reads TESSERA_BFF_<FLAG> (flags win).`;

interface Parsed {
  values: Map<string, string[]>;
  switches: Set<string>;
}

function parse(argv: readonly string[]): Parsed {
  const values = new Map<string, string[]>();
  const switches = new Set<string>();
  const limits = (Object.keys(BFF_LIMITS) as string[]).map(kebab);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith("--")) {
      throw new TesseraError(
        "invalid_request",
        "tessera bff takes no arguments; see tessera bff --help",
      );
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if ((SWITCHES as readonly string[]).includes(name) && eq === -1) {
      switches.add(name);
      continue;
    }
    if (!(VALUE_FLAGS as readonly string[]).includes(name) && !limits.includes(name)) {
      throw new TesseraError("invalid_request", `unknown option --${name}; see tessera bff --help`);
    }
    let value = eq === -1 ? argv[i + 1] : arg.slice(eq + 1);
    if (eq === -1) i++;
    if (value === undefined || (eq === -1 && value.startsWith("--"))) {
      throw new TesseraError("config_invalid", `--${name} needs a value`);
    }
    value = value.trim();
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return { values, switches };
}

function wholeNumber(flag: string, text: string): number {
  if (!/^\d{1,10}$/.test(text))
    throw new TesseraError("config_invalid", `--${flag} needs a whole number`);
  return Number(text);
}

/** `--ca-file FILE`: its text (checked as PEM certificates by the options). */
function readCaFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw new TesseraError(
      "config_invalid",
      `bff: cannot read --ca-file ${JSON.stringify(file)} (${code})`,
    );
  }
}

/** The plugin's options from flags and `TESSERA_BFF_*` (flags win). */
export function bffOptionsFrom(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): {
  options: BffOptions & { db?: string; redis?: string; demo?: boolean };
  port: number;
  host: string;
  secretFromStdin: boolean;
  help: boolean;
} {
  const { values, switches } = parse(argv);
  const one = (flag: string): string | undefined => {
    const v = values.get(flag);
    if (v !== undefined && v.length > 1) {
      throw new TesseraError("config_invalid", `--${flag} given more than once`);
    }
    const fromEnv = env[envOf(flag)];
    return v?.[0] ?? (fromEnv === undefined || fromEnv === "" ? undefined : fromEnv);
  };
  const port = wholeNumber("port", one("port") ?? "5173");
  if (port > 65535) throw new TesseraError("config_invalid", "--port must be 0–65535");
  const host = one("host") ?? "127.0.0.1";
  const upstreamList =
    values.get("upstream") ??
    (env[envOf("upstream")] ?? "").split(",").filter((s) => s.trim() !== "");
  const upstreams: Record<string, string> = {};
  for (const text of upstreamList) {
    const [name, url] = parseUpstream(text.trim());
    if (name in upstreams)
      throw new TesseraError("config_invalid", `bff: upstream ${name} given twice`);
    upstreams[name] = url;
  }
  const options: BffOptions & { db?: string; redis?: string; demo?: boolean } = {
    issuer: one("issuer") ?? "",
    clientId: one("client-id") ?? "",
    clientSecret: env.TESSERA_BFF_CLIENT_SECRET ?? "",
    publicUrl: one("public-url") ?? `http://localhost:${port}`,
    upstreams,
    db: one("db") ?? "memory:",
    revocations: !switches.has("no-revocations"),
  };
  if (switches.has("demo")) Object.assign(options, { demo: true });
  const caFile = one("ca-file");
  if (caFile !== undefined) options.ca = readCaFile(caFile);
  const optional = { scope: one("scope"), issuerUrl: one("issuer-url"), redis: one("redis") };
  for (const [k, v] of Object.entries(optional))
    if (v !== undefined) Object.assign(options, { [k]: v });
  for (const key of Object.keys(BFF_LIMITS) as BffLimitName[]) {
    const v = one(kebab(key));
    if (v !== undefined) options[key] = wholeNumber(kebab(key), v);
  }
  if (options.issuer === "") throw new TesseraError("config_invalid", "bff: --issuer is required");
  if (options.clientId === "")
    throw new TesseraError("config_invalid", "bff: --client-id is required");
  return {
    options,
    port,
    host,
    secretFromStdin: switches.has("client-secret-stdin"),
    help: switches.has("help"),
  };
}

/** `tessera bff`: runs the BFF until SIGINT or SIGTERM. */
export async function bffCommand(argv: readonly string[], io: CliIo): Promise<number> {
  if (argv.includes("--help")) {
    io.out(BFF_USAGE);
    return 0;
  }
  const { options, port, host, secretFromStdin } = bffOptionsFrom(argv, io.env);
  if (secretFromStdin) options.clientSecret = await readPassword(io);
  if (options.db === "memory:") {
    io.err(
      "WARNING: bff --db memory: sessions live in this process only (lost on exit, not shared by instances). Use --db sqlite:PATH, --redis or PostgreSQL for more.",
    );
  }
  const log = createLogger("info", undefined, process.stdout.isTTY === true ? "pretty" : "json");
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    trustProxy: false,
    // The server's rule: at info, a line per answer of 400 and up or a slow one.
    logController: new RequestLog(log),
  });
  await app.register(tesseraBff, {
    ...options,
    onError: (err) => app.log.warn({ error: err.message }, "bff: revocation feed"),
  });
  // Anything else, or a method a route lacks: the error format of every other answer.
  app.setNotFoundHandler((_request, reply) => {
    reply
      .code(404)
      .header("cache-control", "no-store")
      .send({ error: "not_found", message: new TesseraError("not_found").message });
  });
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await app.close();
  };
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());
  await app.listen({ port, host });
  const address = app.server.address();
  const bound = typeof address === "object" && address !== null ? address.port : port;
  io.out(`Tessera BFF listening on http://${host}:${bound} (issuer ${options.issuer})`);
  return 0;
}
