/**
 * Raw HTTP/1.1 over a socket, for inputs that `inject()` and fetch cannot produce (bad
 * chunked bodies, header overflows, upgrades) and for proving that the server ends the
 * exchange: `rawRequest` resolves only once the server has closed the connection, so a
 * server that never answers or holds the socket fails by the test's timeout.
 */
import { connect } from "node:net";

export interface RawAnswer {
  /** Everything the server sent, as latin1 text. */
  text: string;
  /** The status code of the first response, NaN if there was none. */
  status: number;
  /** The first response's headers, names lower-cased (the last value of a repeated one). */
  headers: Record<string, string>;
  /** The first response's body (what follows the blank line). */
  body: string;
}

/** Parses what a server sent on one connection (first response only). */
export function parseRaw(text: string): RawAnswer {
  const end = text.indexOf("\r\n\r\n");
  const head = end === -1 ? text : text.slice(0, end);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    text,
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? Number.NaN),
    headers,
    body: end === -1 ? "" : text.slice(end + 4),
  };
}

/**
 * Writes `request` (exact bytes) to host:port and resolves with what came back once the
 * server closed the connection. Never resolves on its own while the server holds it open.
 */
export function rawRequest(base: string, request: string | Buffer): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(url.port), url.hostname, () => socket.write(request));
    socket.on("data", (c: Buffer) => chunks.push(c));
    // A reset after the answer (the server destroying the socket) still ends the exchange.
    socket.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "ECONNRESET" && err.code !== "EPIPE") reject(err);
    });
    socket.on("close", () => resolve(parseRaw(Buffer.concat(chunks).toString("latin1"))));
  });
}
