/**
 * The human-readable log format (`--log-format pretty`, the default on a terminal): each
 * of pino's JSON lines becomes one line a person reads at a glance,
 *
 *   14:03:07.512 INFO  listening on http://localhost:4000 (127.0.0.1:4000)
 *   14:03:09.020 DEBUG [req-1] incoming request GET /session from 127.0.0.1
 *   14:03:09.031 INFO  [req-1] request completed GET /session from 127.0.0.1 401 in 10.4 ms
 *   14:03:12.410 WARN  introspection: client is fishing client_id=rs-1 forged=61
 *
 * It reformats what pino wrote — after the logger's own censoring — so it shows exactly
 * the fields the JSON has, and no secret the JSON does not. Every control character
 * (and Unicode bidirectional override) is escaped, so a logged value cannot forge a line or
 * send escape sequences to the terminal.
 */

export type LogFormat = "json" | "pretty";

const LEVELS: Readonly<Record<number, string>> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO",
  40: "WARN",
  50: "ERROR",
  60: "FATAL",
};

/** Shown in their own way (or not at all: pid and hostname are the same on every line). */
const SPECIAL = new Set(["level", "time", "pid", "hostname", "msg", "reqId", "req", "res", "err"]);
/** Nested objects are flattened this deep (`a.b.c=…`), then printed as JSON. */
const MAX_DEPTH = 4;

/** `auto`: pretty when the logs go to a terminal, JSON otherwise. */
export function chooseLogFormat(setting: string, toTerminal: boolean): LogFormat {
  if (setting === "pretty" || setting === "json") return setting;
  return toTerminal ? "pretty" : "json";
}

/** A pino destination that writes each line pretty to `out`. */
export function prettyStream(out: { write(text: string): unknown }): { write(line: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) {
        if (line !== "") out.write(`${prettyLine(line)}\n`);
      }
    },
  };
}

/** One pino JSON line, readable (an error's stack follows on indented lines). */
export function prettyLine(json: string): string {
  let entry: unknown;
  try {
    entry = JSON.parse(json);
  } catch {
    return clean(json);
  }
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return clean(json);
  const e = entry as Record<string, unknown>;
  const parts = [clock(e.time), level(e.level)];
  if (e.reqId !== undefined) parts.push(`[${clean(String(e.reqId))}]`);
  if (e.msg !== undefined) parts.push(clean(String(e.msg)));
  parts.push(...request(e.req), ...response(e.res));
  const fields: string[] = [];
  for (const [key, value] of Object.entries(e)) {
    if (key === "responseTime" && typeof value === "number") {
      parts.push(`in ${value.toFixed(1)} ms`);
    } else if (!SPECIAL.has(key)) {
      flatten(key, value, 0, fields);
    }
  }
  const stack = error(e.err, fields);
  return [[...parts, ...fields].join(" "), ...stack].join("\n");
}

function clock(time: unknown): string {
  const d = new Date(typeof time === "number" ? time : Number.NaN);
  if (Number.isNaN(d.getTime())) return "--:--:--.---";
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

function level(value: unknown): string {
  return (LEVELS[value as number] ?? clean(String(value))).padEnd(5);
}

/** The request serializer's fields (src/server/logger.ts): `GET /path from 127.0.0.1`. */
function request(req: unknown): string[] {
  if (typeof req !== "object" || req === null) return [];
  const r = req as Record<string, unknown>;
  const out = [clean(String(r.method ?? "?")), clean(String(r.url ?? "?"))];
  if (r.ip !== undefined) out.push("from", clean(String(r.ip)));
  return out;
}

function response(res: unknown): string[] {
  if (typeof res !== "object" || res === null) return [];
  const status = (res as Record<string, unknown>).statusCode;
  return status === undefined ? [] : [clean(String(status))];
}

/** An error's fields as `err.*=…`, its stack (which starts with its message) below. */
function error(err: unknown, fields: string[]): string[] {
  if (typeof err !== "object" || err === null) {
    if (err !== undefined) flatten("err", err, 0, fields);
    return [];
  }
  const { stack, ...rest } = err as Record<string, unknown>;
  if (typeof stack !== "string") {
    flatten("err", rest, 0, fields);
    return [];
  }
  const { message: _m, type: _t, ...others } = rest;
  flatten("err", others, 0, fields);
  return stack.split("\n").map((line) => `    ${clean(line.trim())}`);
}

function flatten(key: string, value: unknown, depth: number, out: string[]): void {
  if (typeof value === "object" && value !== null && !Array.isArray(value) && depth < MAX_DEPTH) {
    for (const [k, v] of Object.entries(value)) flatten(`${key}.${k}`, v, depth + 1, out);
    return;
  }
  out.push(`${clean(key)}=${scalar(value)}`);
}

function scalar(value: unknown): string {
  if (typeof value === "string") {
    return /^[\w.:/@+,[\]-]+$/.test(value) ? value : clean(JSON.stringify(value));
  }
  if (typeof value === "object" && value !== null) return clean(JSON.stringify(value));
  return clean(String(value));
}

const NAMED: Readonly<Record<string, string>> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** C0 and C1 controls, DEL, and the bidirectional-text controls (marks, embeddings, isolates). */
function unsafe(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    code === 0x61c ||
    code === 0x200e ||
    code === 0x200f ||
    (code >= 0x202a && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/**
 * Escapes every unsafe character: a value from a request can neither start a new line nor
 * drive the terminal nor reorder what is shown.
 */
function clean(text: string): string {
  let out = "";
  for (const c of text) {
    const code = c.codePointAt(0) as number;
    out += unsafe(code) ? (NAMED[c] ?? `\\u${code.toString(16).padStart(4, "0")}`) : c;
  }
  return out;
}
