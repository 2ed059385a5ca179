import type { DestinationStream, LoggerOptions } from "pino";
import { pino } from "pino";

/**
 * Paths pino censors wherever they appear in a log object. The request/response
 * serializers below already leave headers and bodies out; this is the second line.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "req.headers['proxy-authorization']",
  "res.headers['set-cookie']",
  "headers.authorization",
  "headers.cookie",
  "headers['set-cookie']",
  ...[
    "password",
    "currentPassword",
    "newPassword",
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code",
    "code_verifier",
    "cookie",
    "authorization",
  ].flatMap((k) => [k, `*.${k}`, `*.*.${k}`]),
];

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

export function createLogger(level: string, stream?: DestinationStream) {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
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
  return stream === undefined ? pino(options) : pino(options, stream);
}
