import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { TesseraError } from "../errors.js";
import {
  type Config,
  envName,
  flagName,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
} from "./defaults.js";

export type RawSettings = Partial<Record<SettingKey, string | boolean>>;

const KEYS = Object.keys(SETTINGS) as SettingKey[];
/** Settings that have a flag (environment-only ones, like secrets, do not). */
const BY_FLAG = new Map(
  KEYS.filter((k) => !(SETTINGS[k] as SettingSpec).envOnly).map((k) => [flagName(k), k]),
);

/** Settings whose bare flag (no value) means something other than "true". */
const BARE_FLAG_VALUE: Partial<Record<SettingKey, string>> = { trustProxy: "1" };

function configError(message: string): TesseraError {
  return new TesseraError("config_invalid", message);
}

/**
 * Splits argv into settings flags and the remaining positional arguments. Unknown flags
 * are returned in `unknown` so each command can accept its own extra flags.
 */
export function parseFlags(
  argv: readonly string[],
  /** Command flags that never take a value (e.g. `password-stdin`). */
  booleanFlags: readonly string[] = [],
): {
  settings: RawSettings;
  positionals: string[];
  unknown: Map<string, string | true>;
} {
  const settings: RawSettings = {};
  const positionals: string[] = [];
  const unknown = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg.length === 2) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    let negated = false;
    if (value === undefined && name.startsWith("no-") && BY_FLAG.has(name.slice(3))) {
      name = name.slice(3);
      negated = true;
    }
    const key = BY_FLAG.get(name);
    if (key === undefined) {
      const next = argv[i + 1];
      const takesValue = !booleanFlags.includes(name);
      if (takesValue && value === undefined && next !== undefined && !next.startsWith("--")) {
        value = next;
        i++;
      }
      unknown.set(name, value ?? true);
      continue;
    }
    const spec: SettingSpec = SETTINGS[key];
    if (spec.type === "bool") {
      settings[key] = negated ? false : (value ?? true);
      continue;
    }
    if (value === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        value = next;
        i++;
      } else if (BARE_FLAG_VALUE[key] !== undefined) {
        value = BARE_FLAG_VALUE[key];
      } else {
        throw configError(`--${name} needs a value`);
      }
    }
    settings[key] = value;
  }
  return { settings, positionals, unknown };
}

/** Reads every `TESSERA_*` variable that names a setting (flag-only ones excepted). */
export function settingsFromEnv(env: NodeJS.ProcessEnv): RawSettings {
  const out: RawSettings = {};
  for (const key of KEYS) {
    if ((SETTINGS[key] as SettingSpec).flagOnly) continue;
    const value = env[envName(key)];
    if (value !== undefined && value !== "") out[key] = value;
  }
  return out;
}

function parseValue(key: SettingKey, raw: string | boolean): number | boolean | string {
  const spec: SettingSpec = SETTINGS[key];
  const where = spec.envOnly
    ? envName(key)
    : spec.flagOnly
      ? `--${flagName(key)}`
      : `${flagName(key)} (${envName(key)})`;
  switch (spec.type) {
    case "bool": {
      if (typeof raw === "boolean") return raw;
      const v = raw.toLowerCase();
      if (["1", "true", "yes", "on"].includes(v)) return true;
      if (["0", "false", "no", "off"].includes(v)) return false;
      throw configError(`${where} must be true or false, got ${JSON.stringify(raw)}`);
    }
    case "int": {
      const text = String(raw);
      if (spec.auto !== undefined && text === "auto") return spec.auto();
      const n = /^\d{1,12}$/.test(text) ? Number(text) : Number.NaN;
      const min = spec.min ?? 0;
      const max = spec.max ?? Number.MAX_SAFE_INTEGER;
      if (!Number.isInteger(n) || n < min || n > max) {
        const or = spec.auto === undefined ? "" : " or auto";
        throw configError(
          `${where} must be a whole number from ${min} to ${max}${or}, got ${JSON.stringify(text)}`,
        );
      }
      return n;
    }
    case "enum": {
      const text = String(raw);
      if (!spec.values?.includes(text)) {
        throw configError(
          `${where} must be one of ${spec.values?.join(", ")}, got ${JSON.stringify(text)}`,
        );
      }
      return text;
    }
    case "url": {
      const text = String(raw);
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        throw configError(`${where} must be a URL, got a value that is not one`);
      }
      if (spec.schemes && !spec.schemes.includes(url.protocol)) {
        throw configError(`${where} must be a ${spec.schemes.join(" or ")} URL`);
      }
      return text;
    }
    case "string": {
      const text = String(raw);
      if (text.length === 0 || text.length > 4096) {
        throw configError(`${where} must be a non-empty string`);
      }
      return text;
    }
  }
}

/**
 * Resolves the configuration: flags override the environment, which overrides the
 * defaults. Throws `config_invalid` naming the setting and what is allowed.
 */
export function loadConfig(flags: RawSettings = {}, env: NodeJS.ProcessEnv = {}): Config {
  const fromEnv = settingsFromEnv(env);
  const out: Record<string, number | boolean | string | undefined> = {};
  const sources: Partial<Record<SettingKey, "flag" | "env">> = {};
  for (const key of KEYS) {
    const raw = flags[key] ?? fromEnv[key];
    if (raw !== undefined) sources[key] = flags[key] !== undefined ? "flag" : "env";
    out[key] = raw === undefined ? SETTINGS[key].default : parseValue(key, raw);
  }
  const config = { ...out, sources } as unknown as Omit<Config, "issuer" | "db"> & {
    issuer?: string;
    db?: string;
  };
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw configError(
      "tls-cert and tls-key go together: give both (HTTPS) or neither (plain HTTP)",
    );
  }
  const scheme = config.tlsCert === undefined ? "http" : "https";
  config.issuer = normaliseIssuer(config.issuer ?? `${scheme}://localhost:${config.port}`);
  if (scheme === "https" && !config.issuer.startsWith("https:")) {
    throw configError("with tls-cert (HTTPS) the issuer must be an https URL");
  }
  // A sqlite: URL's path is percent-decoded (src/store/open.ts): a `%` in --data is data.
  config.db ??= `sqlite:${join(resolve(config.data), "tessera.db").replaceAll("%", "%25")}`;
  if (config.sessionIdleTimeout > config.sessionAbsoluteTimeout) {
    throw configError(
      "session-idle-timeout must not exceed session-absolute-timeout " +
        `(${config.sessionIdleTimeout} > ${config.sessionAbsoluteTimeout})`,
    );
  }
  if (config.refreshTokenIdleTtl > config.refreshTokenTtl) {
    throw configError(
      "refresh-token-idle-ttl must not exceed refresh-token-ttl " +
        `(${config.refreshTokenIdleTtl} > ${config.refreshTokenTtl})`,
    );
  }
  // Publish-before-sign across instances: every instance reloads the keys at least once
  // every keys-reload-interval, so a key rotated in anywhere is in every instance's JWKS
  // before it signs only if the delay is longer than that.
  if (config.keyActivationDelay <= config.keysReloadInterval) {
    throw configError(
      "key-activation-delay must exceed keys-reload-interval " +
        `(${config.keyActivationDelay} <= ${config.keysReloadInterval}): another instance ` +
        "could sign with a new key before this one publishes it",
    );
  }
  if (config.accessTokenTtl > config.accessTokenMaxTtl) {
    throw configError(
      "access-token-ttl must not exceed access-token-max-ttl " +
        `(${config.accessTokenTtl} > ${config.accessTokenMaxTtl})`,
    );
  }
  return config as Config;
}

function normaliseIssuer(text: string): string {
  const url = new URL(text);
  if (url.search || url.hash || url.username || url.password) {
    throw configError("issuer must be a URL without query, fragment or credentials");
  }
  return url.href.replace(/\/$/, "");
}

/**
 * True for 127.0.0.0/8, ::1 (IPv4-mapped too) and `localhost`: a listen address or a
 * client IP. (The guard's `isLoopbackHost`, src/guard/urls.ts, judges URL hostnames.)
 */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h.startsWith("::ffff:127.");
  return false;
}

/**
 * Several `serve` workers share state through the store: the memory store lives in one
 * process, so each worker would have its own users, sessions and revocations.
 */
export function assertWorkersSupported(config: Config): void {
  if (config.workers > 1 && config.db.startsWith("memory")) {
    throw new TesseraError(
      "workers_need_shared_store",
      `--workers ${config.workers} needs a store shared across processes (sqlite: or postgres://); ` +
        "--db memory keeps everything in one process: use --workers 1",
    );
  }
  // The demo registers its clients with secrets kept in the process (src/demo/clients.ts):
  // several workers would keep replacing each other's.
  if (config.workers > 1 && config.demo) {
    throw configError(
      `--demo serves its pages from one process: use --workers 1 with --demo (not ${config.workers})`,
    );
  }
}

/**
 * `serve` only listens beyond loopback when it speaks HTTPS itself (--tls-cert) or a
 * TLS-terminating proxy is in front: session cookies are `Secure`, and plain HTTP on a
 * network would expose them.
 */
export function assertSafeToServe(config: Config): void {
  if (!isLoopbackAddress(config.host) && config.trustProxy === 0 && config.tlsCert === undefined) {
    throw configError(
      `refusing to serve plain HTTP on non-loopback address ${config.host}: ` +
        "give --tls-cert and --tls-key, put Tessera behind a TLS-terminating proxy and pass --trust-proxy, or use --host 127.0.0.1",
    );
  }
}
