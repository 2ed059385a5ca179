import { hostname } from "node:os";
import type { DestinationStream, LoggerOptions } from "pino";
import { pino } from "pino";
import { type LogFormat, prettyStream } from "./log-format.js";

/**
 * Keys whose values never reach a log line, at any depth up to four levels (so
 * `headers.cookie` and `req.body.password` are covered as well as `password`). The
 * request/response serializers below already leave headers and bodies out; this is the
 * second line. Applied as pino's `formatters.log`, so it costs only when a line is
 * written — pino's `redact` would recompile its paths for the child logger of every
 * request.
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "password",
  "currentpassword",
  "newpassword",
  "token",
  "access_token",
  "refresh_token",
  "id_token",
  "client_secret",
  "code",
  "code_verifier",
  "secret",
  "cookie",
  "set-cookie",
  "authorization",
  "proxy-authorization",
]);

const CENSORED = "[redacted]";
const MAX_DEPTH = 4;

/** A copy of `value` with every secret key's value replaced. */
export function censorSecrets(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((v) => censorSecrets(v, depth + 1));
  // Only plain data is copied: class instances (the request, errors) are left to their
  // serializers, which never read secret fields.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) ? CENSORED : censorSecrets(v, depth + 1);
  }
  return out;
}

/** Query parameters whose values never reach a log line. */
const SECRET_QUERY =
  /^(token|access_token|refresh_token|id_token|code|code_verifier|client_secret|password|state)$/i;

/** Strips secret query values from a URL before it is logged. */
export function loggableUrl(url: string): string {
  const q = url.indexOf("?");
  if (q === -1) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const key of [...params.keys()]) {
    if (SECRET_QUERY.test(key)) params.set(key, "[redacted]");
  }
  return `${url.slice(0, q)}?${params.toString()}`;
}

interface LoggableRequest {
  method: string;
  url: string;
  id?: string;
  ip?: string;
}

/**
 * The server's logger: JSON lines (pino's shape) or, with `format` "pretty", readable
 * lines made from them (./log-format.ts). To `stream`, else stdout. `fields` go on every
 * line, beside pino's `pid` and `hostname` (`serve --workers`: which worker wrote it).
 */
export function createLogger(
  level: string,
  stream?: DestinationStream,
  format: LogFormat = "json",
  fields: Readonly<Record<string, string | number | boolean>> = {},
) {
  const options: LoggerOptions = {
    level,
    base: { pid: process.pid, hostname: hostname(), ...fields },
    formatters: { log: (obj) => censorSecrets(obj) as Record<string, unknown> },
    serializers: {
      req: (req: LoggableRequest) => ({
        id: req.id,
        method: req.method,
        url: loggableUrl(req.url),
        ip: req.ip,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
  if (format === "pretty") return pino(options, prettyStream(stream ?? process.stdout));
  return stream === undefined ? pino(options) : pino(options, stream);
}
