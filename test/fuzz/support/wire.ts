/**
 * The HTTP fuzzer's second transport: the request as bytes on a real socket, for what
 * `inject()` smooths over (a header sent twice is two header lines, raw UTF-8 in a header,
 * a Content-Length that lies, a missing or doubled Host). Each exchange has
 * `Connection: close`; an event stream's head is enough (the connection is then cut).
 */
import { connect } from "node:net";
import { parseRaw } from "../../support/raw-http.js";
import { payloadOf, type Req } from "./http-cases.js";

export type WireTwist =
  | "none"
  | "no-host"
  | "two-hosts"
  | "short-length"
  | "chunked"
  | "utf8-header"
  | "http10";

export interface WireAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function dechunk(body: string): string {
  let out = "";
  let rest = body;
  for (;;) {
    const eol = rest.indexOf("\r\n");
    if (eol === -1) return out;
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** The bytes of `req` as an HTTP/1.1 request, with `twist` applied. */
export function wireBytes(req: Req, twist: WireTwist, host: string): Buffer {
  const payload = Buffer.from(payloadOf(req) ?? "", "utf8");
  const version = twist === "http10" ? "HTTP/1.0" : "HTTP/1.1";
  const lines: string[] = [`${req.method} ${req.url} ${version}`];
  if (twist !== "no-host") lines.push(`Host: ${host}`);
  if (twist === "two-hosts") lines.push("Host: evil.example");
  for (const [name, v] of Object.entries(req.headers)) {
    for (const one of [v].flat()) lines.push(`${name}: ${one}`);
  }
  if (twist === "utf8-header") lines.push("X-Name: é𝕏\u00ff");
  lines.push("Connection: close");
  let body = payload;
  if (twist === "chunked") {
    lines.push("Transfer-Encoding: chunked");
    body = Buffer.concat([
      Buffer.from(`${payload.length.toString(16)}\r\n`),
      payload,
      Buffer.from("\r\n0\r\n\r\n"),
    ]);
  } else if (payload.length > 0 || twist === "short-length") {
    // Shorter than the body: the rest arrives as the start of a next request. (Longer
    // would wait for the request timeout, 408: test/server/request-timeout.test.ts.)
    const n = twist === "short-length" ? Math.max(0, payload.length - 1) : payload.length;
    lines.push(`Content-Length: ${n}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "utf8"), body]);
}

/**
 * Sends the bytes; resolves with the first response once the server closed the
 * connection (or, for an event stream, once its head arrived). Rejects after `hangMs`.
 */
export function sendWire(base: string, bytes: Buffer, hangMs: number): Promise<WireAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    const answer = () => {
      const raw = parseRaw(Buffer.concat(chunks).toString("latin1"));
      const body = raw.headers["transfer-encoding"] === "chunked" ? dechunk(raw.body) : raw.body;
      // latin1 → the UTF-8 the server wrote.
      return {
        status: raw.status,
        headers: raw.headers,
        body: Buffer.from(body, "latin1").toString("utf8"),
      };
    };
    const socket = connect(Number(url.port), url.hostname, () => socket.write(bytes));
    const timer = setTimeout(
      () => finish(() => reject(new Error(`hang: no answer on the socket within ${hangMs} ms`))),
      hangMs,
    );
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks).toString("latin1");
      if (/\r\ncontent-type: text\/event-stream/i.test(text) && text.includes("\r\n\r\n")) {
        finish(() => resolve(answer()));
      }
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNRESET" && err.code !== "EPIPE") finish(() => reject(err));
    });
    socket.on("close", () => finish(() => resolve(answer())));
  });
}
