import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { type ClientChanges, type ClientView, clientView } from "../clients/clients.js";
import {
  type Config,
  envName,
  flagName,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
} from "../config/defaults.js";
import { assertSafeToServe, loadConfig, parseFlags } from "../config/load.js";
import { TesseraError } from "../errors.js";
import { SIGNING_ALGS } from "../keys/keys.js";
import { buildServer } from "../server/app.js";
import type { SigningAlg } from "../store/types.js";
import { Tessera } from "../tessera.js";
import { decodeJwt } from "../tokens/jwt/decode.js";

export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  out(line: string): void;
  err(line: string): void;
}

/** Command flags that take no value. */
const BOOLEAN_FLAGS = [
  "password-stdin",
  "help",
  "introspect",
  "public",
  "first-party",
  "fingerprint",
  "no-introspect",
  "no-first-party",
  "no-fingerprint",
];

const USAGE = `Usage: tessera <command> [options]

Commands:
  serve [--port 4000] [--host 127.0.0.1] [--data DIR] [--db URL] [--redis URL]
        [--issuer URL [--change-issuer]] [--trust-proxy [HOPS]]
        [--signing-alg ES256|EdDSA|RS256] [--demo]       run the auth server
  user add NAME --password-stdin [--roles a,b]            create a user
  user list                                               list users
  user disable NAME | user enable NAME                    disabling ends every session
  user roles NAME --set a,b                               replace roles (sessions get a new id)
  user password NAME --password-stdin                     set a password; ends every session
  client add ID --grants G[,G] --audience AUD [--scopes "a b"] [--token-format jwt|opaque]
        [--access-ttl SECONDS] [--introspect] [--public] [--redirect-uri URI[,URI]]
        [--first-party] [--fingerprint]                   register a client (secret printed once)
        grants: authorization_code, refresh_token, client_credentials
  client update ID [--grants G[,G]] [--audience AUD] [--scopes "a b"] [--token-format F]
        [--access-ttl SECONDS|default] [--[no-]introspect] [--redirect-uri URI[,URI]]
        [--[no-]first-party] [--[no-]fingerprint]         change a client (narrowing revokes)
  client list | client rotate-secret ID
  client remove ID                                        end everything the client was given
  keys list | keys rotate [--alg ES256|EdDSA|RS256]       signing keys (publish before sign)
  token decode TOKEN                                      show a JWT's header and claims (no verification)
  help                                                    this text

Every option also reads TESSERA_<OPTION> from the environment (flags win; not --change-issuer).
All settings: see the README's configuration table, or \`tessera help settings\`.`;

/** Runs one CLI command; returns the exit code. Throws TesseraError for user errors. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { settings, positionals, unknown } = parseFlags(argv, BOOLEAN_FLAGS);
  const [command, sub, ...rest] = positionals;
  if (command === undefined || command === "help" || unknown.has("help")) {
    io.out(sub === "settings" ? settingsHelp() : USAGE);
    return 0;
  }
  if (command === "serve") {
    rejectUnknown(unknown, []);
    positionalArgs("serve", positionals.slice(1), []);
    // --port 0: pick the free port now, so the derived issuer names the real one.
    const port = settings.port ?? io.env.TESSERA_PORT;
    if (port === "0" && settings.issuer === undefined && !io.env.TESSERA_ISSUER) {
      settings.port = String(await freeLoopbackPort());
    }
  }
  const config = loadConfig(settings, io.env);
  switch (command) {
    case "serve":
      return serve(config, io);
    case "user":
      return userCommand(config, sub, rest, unknown, io);
    case "client":
      return clientCommand(config, sub, rest, unknown, io);
    case "keys":
      positionalArgs(`keys ${sub ?? ""}`.trim(), rest, []);
      return keysCommand(config, sub, unknown, io);
    case "token":
      if (sub !== "decode")
        throw new TesseraError("invalid_request", "usage: tessera token decode TOKEN");
      rejectUnknown(unknown, []);
      return decodeCommand((positionalArgs("token decode", rest, ["TOKEN"]) as [string])[0], io);
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
    .map((k) => {
      const spec: SettingSpec = SETTINGS[k];
      const names = spec.envOnly
        ? envName(k)
        : spec.flagOnly
          ? `--${flagName(k)}`
          : `--${flagName(k)} (${envName(k)})`;
      return `${names}: ${spec.doc}`;
    })
    .join("\n");
}

async function serve(config: ReturnType<typeof loadConfig>, io: CliIo): Promise<number> {
  assertSafeToServe(config);
  if (config.db.startsWith("memory")) {
    io.err(
      "WARNING: --db memory: keeps users and sessions in this process only; everything is lost on exit. For tests, never production.",
    );
  }
  const tessera = await Tessera.open({
    config,
    role: "serve",
    onWarning: (m) => io.err(`WARNING: ${m}`),
  });
  await tessera.hasher.warmUp();
  if (config.demo) await ensureDemoUser(tessera, io);
  const app = await buildServer(tessera);
  for (const notice of tessera.notices) app.log[notice.level](notice.message);
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
    `Tessera listening on http://${hostForUrl(config.host)}:${port} (issuer ${tessera.config.issuer})`,
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

/** Checks a command's positional arguments: exactly `names`, no more, no fewer. */
function positionalArgs(command: string, args: readonly string[], names: string[]): string[] {
  if (args.length < names.length) {
    throw new TesseraError(
      "invalid_request",
      `${command} needs ${names.join(" ")}; see tessera help`,
    );
  }
  if (args.length > names.length) {
    // The extra argument is not echoed: it may be a password typed in the wrong place.
    throw new TesseraError(
      "invalid_request",
      `too many arguments for ${command} (expected ${names.join(" ") || "none"}); see tessera help`,
    );
  }
  return [...args];
}

function requirePasswordStdin(command: string, unknown: Map<string, string | true>): void {
  if (unknown.get("password-stdin") !== true) {
    throw new TesseraError(
      "invalid_request",
      `${command} needs --password-stdin (passwords are never taken as arguments)`,
    );
  }
}

/** `user …`: every option and argument is checked before the store is opened. */
async function userCommand(
  config: Config,
  sub: string | undefined,
  args: string[],
  unknown: Map<string, string | true>,
  io: CliIo,
): Promise<number> {
  switch (sub) {
    case "add": {
      rejectUnknown(unknown, ["password-stdin", "roles"]);
      requirePasswordStdin("user add", unknown);
      const [name] = positionalArgs("user add", args, ["NAME"]) as [string];
      const roles = listOption(stringOption("roles", unknown.get("roles")));
      const password = await readPassword(io);
      return withTessera(config, async (t) => {
        const user = await t.users.create({ username: name, password, roles });
        io.out(`created user ${user.username} (id ${user.id})`);
        return 0;
      });
    }
    case "list":
      rejectUnknown(unknown, []);
      positionalArgs("user list", args, []);
      return withTessera(config, async (t) => {
        for (const u of await t.users.list()) {
          const state = u.disabled ? "disabled" : "active";
          const created = new Date(u.createdAt).toISOString();
          io.out(`${u.id}\t${u.username}\t${state}\t${u.roles.join(",") || "-"}\t${created}`);
        }
        return 0;
      });
    case "disable":
    case "enable": {
      rejectUnknown(unknown, []);
      const [name] = positionalArgs(`user ${sub}`, args, ["NAME"]) as [string];
      return withTessera(config, async (t) => {
        const user = sub === "disable" ? await t.disableUser(name) : await t.enableUser(name);
        io.out(`${sub}d user ${user.username}${sub === "disable" ? "; every session ended" : ""}`);
        return 0;
      });
    }
    case "roles": {
      rejectUnknown(unknown, ["set"]);
      const [name] = positionalArgs("user roles", args, ["NAME"]) as [string];
      const set = unknown.get("set");
      if (set === undefined || set === true) {
        throw new TesseraError(
          "invalid_request",
          "user roles needs --set a,b (or --set '' for none)",
        );
      }
      return withTessera(config, async (t) => {
        const user = await t.users.setRoles(name, listOption(set));
        io.out(`roles of ${user.username}: ${user.roles.join(",") || "(none)"}`);
        return 0;
      });
    }
    case "password": {
      rejectUnknown(unknown, ["password-stdin"]);
      requirePasswordStdin("user password", unknown);
      const [name] = positionalArgs("user password", args, ["NAME"]) as [string];
      const password = await readPassword(io);
      return withTessera(config, async (t) => {
        const user = await t.users.require(name);
        await t.users.setPassword(user, password);
        await t.revokeAllForUser(user.id);
        io.out(`password of ${user.username} changed; every session ended`);
        return 0;
      });
    }
    default:
      throw new TesseraError(
        "invalid_request",
        `unknown user command "${sub ?? ""}"; see tessera help`,
      );
  }
}

function listOption(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Opens the installation for an admin command: its recorded issuer, no key made. */
async function withTessera<T>(config: Config, fn: (t: Tessera) => Promise<T>): Promise<T> {
  const tessera = await Tessera.open({ config, role: "admin" });
  try {
    return await fn(tessera);
  } finally {
    await tessera.close();
  }
}

function intOption(name: string, value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === true || !/^\d{1,9}$/.test(value)) {
    throw new TesseraError("invalid_request", `--${name} needs a whole number`);
  }
  return Number(value);
}

function stringOption(name: string, value: string | true | undefined): string | undefined {
  if (value === true) throw new TesseraError("invalid_request", `--${name} needs a value`);
  return value;
}

async function clientCommand(
  config: Config,
  sub: string | undefined,
  args: string[],
  unknown: Map<string, string | true>,
  io: CliIo,
): Promise<number> {
  switch (sub) {
    case "add": {
      rejectUnknown(unknown, [
        "grants",
        "token-format",
        "audience",
        "scopes",
        "access-ttl",
        "introspect",
        "public",
        "redirect-uri",
        "first-party",
        "fingerprint",
      ]);
      const [clientId] = positionalArgs("client add", args, ["ID"]) as [string];
      const redirectUris = listOption(stringOption("redirect-uri", unknown.get("redirect-uri")));
      const accessTtl = intOption("access-ttl", unknown.get("access-ttl"));
      const tokenFormat = stringOption("token-format", unknown.get("token-format"));
      return withTessera(config, async (t) => {
        const { client, secret } = await t.clients.add({
          id: clientId,
          grants: listOption(stringOption("grants", unknown.get("grants"))),
          audience: listOption(stringOption("audience", unknown.get("audience"))),
          scopes: (stringOption("scopes", unknown.get("scopes")) ?? "").split(" ").filter(Boolean),
          introspect: unknown.get("introspect") === true,
          public: unknown.get("public") === true,
          firstParty: unknown.get("first-party") === true,
          fingerprint: unknown.get("fingerprint") === true,
          redirectUris,
          ...(accessTtl === undefined ? {} : { accessTtl }),
          ...(tokenFormat === undefined ? {} : { tokenFormat }),
        });
        io.out(`created ${client.type} client ${client.id}`);
        if (secret !== undefined) {
          io.out(`client_secret: ${secret}`);
          io.out("(shown once; only its SHA-256 is stored — keep it in your secret manager)");
        }
        return 0;
      });
    }
    case "list":
      rejectUnknown(unknown, []);
      positionalArgs("client list", args, []);
      return withTessera(config, async (t) => {
        for (const c of await t.clients.list()) io.out(clientLine(c));
        return 0;
      });
    case "update":
      return clientUpdate(config, args, unknown, io);
    case "remove": {
      rejectUnknown(unknown, []);
      const [id] = positionalArgs("client remove", args, ["ID"]) as [string];
      return withTessera(config, async (t) => {
        await t.removeClient(id);
        io.out(
          `removed client ${id}; its refresh tokens, access tokens, consents and feed connections are ended`,
        );
        return 0;
      });
    }
    case "rotate-secret": {
      rejectUnknown(unknown, []);
      const [id] = positionalArgs("client rotate-secret", args, ["ID"]) as [string];
      return withTessera(config, async (t) => {
        const secret = await t.rotateClientSecret(id);
        io.out(`client_secret: ${secret}`);
        io.out("(shown once; the previous secret no longer works)");
        return 0;
      });
    }
    default:
      throw new TesseraError(
        "invalid_request",
        `unknown client command "${sub ?? ""}"; see tessera help`,
      );
  }
}

/** One client as `client list` and `client update` print it. */
function clientLine(c: ClientView): string {
  return [
    c.id,
    c.type,
    c.grants.join(","),
    c.tokenFormat,
    `aud=${c.audience.join(",") || "-"}`,
    `scopes=${c.scopes.join(" ") || "-"}`,
    `ttl=${c.accessTtl ?? "default"}`,
    c.introspect ? "introspect" : "",
    c.firstParty ? "first-party" : "",
    c.fingerprint ? "fingerprint" : "",
    c.redirectUris.length > 0 ? `redirect=${c.redirectUris.join(",")}` : "",
  ]
    .filter(Boolean)
    .join("\t");
}

/** `--NAME` / `--no-NAME`: true, false, or undefined when neither is given. */
function switchOption(name: string, unknown: Map<string, string | true>): boolean | undefined {
  const on = unknown.get(name) === true;
  const off = unknown.get(`no-${name}`) === true;
  if (on && off) throw new TesseraError("invalid_request", `--${name} and --no-${name} conflict`);
  return on ? true : off ? false : undefined;
}

/** `client update ID [...]`: only the options given change; checked as `client add` checks. */
async function clientUpdate(
  config: Config,
  args: string[],
  unknown: Map<string, string | true>,
  io: CliIo,
): Promise<number> {
  rejectUnknown(unknown, [
    "grants",
    "token-format",
    "audience",
    "scopes",
    "access-ttl",
    "introspect",
    "no-introspect",
    "redirect-uri",
    "first-party",
    "no-first-party",
    "fingerprint",
    "no-fingerprint",
  ]);
  const [clientId] = positionalArgs("client update", args, ["ID"]) as [string];
  const changes: ClientChanges = {};
  const list = (name: string) => {
    const v = stringOption(name, unknown.get(name));
    return v === undefined ? undefined : listOption(v);
  };
  const grants = list("grants");
  if (grants !== undefined) changes.grants = grants;
  const audience = list("audience");
  if (audience !== undefined) changes.audience = audience;
  const redirectUris = list("redirect-uri");
  if (redirectUris !== undefined) changes.redirectUris = redirectUris;
  const scopes = stringOption("scopes", unknown.get("scopes"));
  if (scopes !== undefined) changes.scopes = scopes.split(" ").filter(Boolean);
  const tokenFormat = stringOption("token-format", unknown.get("token-format"));
  if (tokenFormat !== undefined) changes.tokenFormat = tokenFormat;
  const ttl = unknown.get("access-ttl");
  if (ttl !== undefined)
    changes.accessTtl = ttl === "default" ? null : intOption("access-ttl", ttl);
  for (const [flag, key] of [
    ["introspect", "introspect"],
    ["first-party", "firstParty"],
    ["fingerprint", "fingerprint"],
  ] as const) {
    const value = switchOption(flag, unknown);
    if (value !== undefined) changes[key] = value;
  }
  if (Object.keys(changes).length === 0) {
    throw new TesseraError("invalid_request", "client update needs an option to change");
  }
  return withTessera(config, async (t) => {
    io.out(clientLine(clientView(await t.updateClient(clientId, changes))));
    return 0;
  });
}

/** Free TCP port on loopback, chosen by the kernel. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        resolvePort(typeof address === "object" && address !== null ? address.port : 0),
      );
    });
  });
}

async function keysCommand(
  config: Config,
  sub: string | undefined,
  unknown: Map<string, string | true>,
  io: CliIo,
): Promise<number> {
  switch (sub) {
    case "list":
      rejectUnknown(unknown, []);
      return withTessera(config, async (t) => {
        io.out("kid\talg\tstate\tcreated\tsigns from\tretires\tremoved after");
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
      return withTessera(config, async (t) => {
        const k = await t.keys.rotate(alg as SigningAlg | undefined);
        io.out(
          `new ${k.alg} key ${k.kid}: published now, signs from ${new Date(k.activatesAt).toISOString()}`,
        );
        io.out("the previous key stays published until every token it signed has expired");
        return 0;
      });
    }
    default:
      throw new TesseraError(
        "invalid_request",
        `unknown keys command "${sub ?? ""}"; see tessera help`,
      );
  }
}

function decodeCommand(token: string, io: CliIo): number {
  const decoded = decodeJwt(token);
  io.out("NOT VERIFIED: this shows what the token says, not whether it is genuine.");
  io.out(`header: ${JSON.stringify(decoded.header, null, 2)}`);
  io.out(`claims: ${JSON.stringify(decoded.claims, null, 2)}`);
  for (const w of decoded.warnings) io.out(`warning: ${w}`);
  return 0;
}
