import type { SettingSpec } from "./spec.js";

/** HTTP: request bodies, /metrics, logging, the demo. */
export const HTTP_SETTINGS = {
  bodyLimit: {
    type: "int",
    default: 16 * 1024,
    min: 1024,
    max: 1024 * 1024,
    doc: "Largest accepted request body in bytes; larger bodies get 413 body_too_large.",
  },
  metrics: {
    type: "enum",
    default: "loopback",
    values: ["loopback", "public", "off"],
    doc: "GET /metrics (Prometheus): only for loopback clients, for anyone, or not at all.",
  },
  logLevel: {
    type: "enum",
    default: "info",
    values: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
    doc: "Log level (pino). `info`: startup, shutdown, security events, errors, and one line per request answered 4xx/5xx or in 1 s or more; a quick 2xx/3xx writes none. `debug`: every request (README: What is logged). Tokens, cookies and passwords are never logged at any level.",
  },
  logFormat: {
    type: "enum",
    default: "auto",
    values: ["auto", "pretty", "json"],
    doc: "Format of the server's log lines on stdout: `pretty` (one readable line each: time, level, message, fields), `json` (pino's JSON objects, one a line, for log collectors) or `auto`: pretty when stdout is a terminal, JSON otherwise. Secrets are censored in both.",
  },
  demo: {
    type: "bool",
    default: false,
    doc: "On first start, create a demo user with a random password printed once. Also serve the demo: `/demo`, `/demo/spa`, the demo API and the BFF (README: The demo); one process only (`--workers 1`).",
  },
} as const satisfies Record<string, SettingSpec>;
