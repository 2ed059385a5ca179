import type { Config } from "../config/defaults.js";
import { TesseraError } from "../errors.js";
import { describeData } from "../installation/location.js";
import { type InstallationInUse, Tessera } from "../tessera.js";
import type { CliIo } from "./io.js";

/** A command's options that are not settings, by name (`true` for a flag with no value). */
export type Options = Map<string, string | true>;

/** Command flags that take no value. */
export const BOOLEAN_FLAGS = [
  "password-stdin",
  "help",
  "introspect",
  "public",
  "first-party",
  "fingerprint",
  "no-introspect",
  "no-first-party",
  "no-fingerprint",
  "oidc",
  "no-oidc",
  "email-verified",
  "no-email-verified",
  "json",
];

/** One subcommand of a command group (`user add`, `client list`, …): its exit code. */
export type Subcommand = (
  config: Config,
  args: string[],
  unknown: Options,
  io: CliIo,
) => Promise<number>;

/** The refusal of a subcommand a command group does not have. */
export function unknownSubcommand(group: string, sub: string | undefined): TesseraError {
  return new TesseraError(
    "invalid_request",
    `unknown ${group} command "${sub ?? ""}"; see tessera help`,
  );
}

export function rejectUnknown(unknown: Options, allowed: string[]): void {
  for (const name of unknown.keys()) {
    if (!allowed.includes(name)) {
      throw new TesseraError("invalid_request", `unknown option --${name}; see tessera help`);
    }
  }
}

/** Checks a command's positional arguments: exactly `names`, no more, no fewer. */
export function positionalArgs(
  command: string,
  args: readonly string[],
  names: string[],
): string[] {
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

export function requirePasswordStdin(command: string, unknown: Options): void {
  if (unknown.get("password-stdin") !== true) {
    throw new TesseraError(
      "invalid_request",
      `${command} needs --password-stdin (passwords are never taken as arguments)`,
    );
  }
}

export async function readPassword(io: CliIo): Promise<string> {
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

export function listOption(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function intOption(name: string, value: string | true | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === true || !/^\d{1,9}$/.test(value)) {
    throw new TesseraError("invalid_request", `--${name} needs a whole number`);
  }
  return Number(value);
}

export function stringOption(name: string, value: string | true | undefined): string | undefined {
  if (value === true) throw new TesseraError("invalid_request", `--${name} needs a value`);
  return value;
}

/** `--NAME` / `--no-NAME`: true, false, or undefined when neither is given. */
export function switchOption(name: string, unknown: Options): boolean | undefined {
  const on = unknown.get(name) === true;
  const off = unknown.get(`no-${name}`) === true;
  if (on && off) throw new TesseraError("invalid_request", `--${name} and --no-${name} conflict`);
  return on ? true : off ? false : undefined;
}

/**
 * Opens the installation for an admin command: its recorded issuer, no key made. Refused
 * (`installation_not_found`) where there is none, unless `--init`. Says on stderr which
 * data it uses, so stdout stays the command's own output.
 */
export async function withTessera<T>(
  config: Config,
  io: CliIo,
  fn: (t: Tessera) => Promise<T>,
): Promise<T> {
  const tessera = await Tessera.open({ config, role: "admin", create: config.init });
  io.err(dataLine(tessera.installation));
  try {
    return await fn(tessera);
  } finally {
    await tessera.close();
  }
}

/** `tessera: using data in /abs/.tessera (sqlite)`: one line, never a secret. */
export function dataLine(installation: InstallationInUse): string {
  const what = installation.created ? "created a new installation in" : "using data in";
  return `tessera: ${what} ${describeData(installation.location)}`;
}
