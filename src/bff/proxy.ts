/**
 * `/bff/api/NAME/*` → the upstream registered as NAME, nothing else (an allow-list of
 * names; the path cannot climb out of the upstream's base path). The request goes with
 * `Authorization: Bearer <the session's access token>` and only a few end-to-end headers
 * of the browser's (never its cookies, never its Authorization); the answer comes back
 * without the upstream's cookies. Bodies both ways are bounded, and the upstream has
 * `upstreamTimeout` to answer (504 `upstream_timeout`; unreachable: 502
 * `upstream_unavailable`).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { TesseraError } from "../errors.js";
import type { ResolvedBffOptions } from "./options.js";

/** Request headers passed on to an upstream: content negotiation and conditionals only. */
const REQUEST_HEADERS = [
  "accept",
  "accept-language",
  "content-type",
  "content-language",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "range",
];

/** Response headers passed back to the browser. */
const RESPONSE_HEADERS = [
  "content-type",
  "content-language",
  "content-disposition",
  "content-range",
  "accept-ranges",
  "etag",
  "last-modified",
  "retry-after",
  "www-authenticate",
  "vary",
];

export interface ProxyRequest {
  method: string;
  /** The path after `/bff/api/NAME/`, with its query, raw (still percent-encoded). */
  rest: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer | undefined;
}

export interface ProxyResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The upstream URL for `rest` under `base`, or undefined if it would leave `base`. */
export function upstreamUrl(base: URL, rest: string): URL | undefined {
  if (rest.includes("\\") || /(^|\/)(\.|%2e){1,2}(\/|\?|$)/i.test(rest)) return undefined;
  if (/%2f|%5c/i.test(rest.split("?")[0] as string)) return undefined;
  const prefix = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
  let url: URL;
  try {
    url = new URL(`${base.origin}${prefix}${rest}`);
  } catch {
    return undefined;
  }
  if (url.origin !== base.origin || !url.pathname.startsWith(prefix)) return undefined;
  return url;
}

/** Connections one process keeps open to one upstream host at most (more requests wait). */
export const UPSTREAM_SOCKETS = 256;

/** Keep-alive connections to the upstreams, reused across requests (bounded per host). */
const agents = {
  "http:": new HttpAgent({ keepAlive: true, maxSockets: UPSTREAM_SOCKETS }),
  "https:": new HttpsAgent({ keepAlive: true, maxSockets: UPSTREAM_SOCKETS }),
};

interface Upstreamed {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/**
 * One request to an upstream with node:http (a keep-alive agent; WHATWG fetch costs
 * several times more per request), its whole answer read up to `limit` bytes, all within
 * `timeoutMs` (else `upstream_timeout`).
 */
function send(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
  limit: number,
): Promise<Upstreamed> {
  return new Promise((resolve, reject) => {
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (err: TesseraError | undefined, value?: Upstreamed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== undefined) {
        req.destroy();
        reject(err);
      } else resolve(value as Upstreamed);
    };
    const timer = setTimeout(() => finish(new TesseraError("upstream_timeout")), timeoutMs);
    // Plain options rather than the URL: node:http would convert it on every call.
    const options = {
      protocol: url.protocol,
      hostname: url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname,
      port: url.port,
      path: `${url.pathname}${url.search}`,
      method,
      headers,
      agent: agents[url.protocol as "http:" | "https:"],
    };
    const req = request(options, (res) => {
      const declared = Number(res.headers["content-length"] ?? "0");
      if (declared > limit) return finish(tooLarge());
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) finish(tooLarge());
        else chunks.push(chunk);
      });
      res.on("end", () =>
        finish(undefined, {
          status: res.statusCode ?? 502,
          headers: res.headers,
          body: Buffer.concat(chunks),
        }),
      );
      res.on("error", (e) => finish(upstreamError(e)));
    });
    req.on("error", (e) => finish(upstreamError(e)));
    req.end(body);
  });
}

function tooLarge(): TesseraError {
  return new TesseraError("upstream_unavailable", "The upstream's answer is too large.");
}

export async function proxy(
  o: ResolvedBffOptions,
  name: string,
  req: ProxyRequest,
  accessToken: string,
): Promise<ProxyResponse> {
  const base = o.upstreams.get(name);
  if (base === undefined) throw new TesseraError("not_found", "No such upstream.");
  const url = upstreamUrl(base, req.rest);
  if (url === undefined) throw new TesseraError("invalid_request", "The path leaves the upstream.");
  const headers: Record<string, string> = { authorization: `Bearer ${accessToken}` };
  for (const h of REQUEST_HEADERS) {
    const v = req.headers[h];
    if (typeof v === "string") headers[h] = v;
  }
  const withBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== undefined;
  if (withBody) headers["content-length"] = String(req.body?.length ?? 0);
  const res = await send(
    url,
    req.method,
    headers,
    withBody ? req.body : undefined,
    o.upstreamTimeout,
    o.responseLimit,
  );
  // A redirect would point into the upstream's own URL space: not passed on.
  if (res.status >= 300 && res.status < 400 && res.status !== 304) {
    throw new TesseraError("upstream_unavailable", "The upstream answered with a redirect.");
  }
  const out: Record<string, string> = {};
  for (const h of RESPONSE_HEADERS) {
    const v = res.headers[h];
    if (typeof v === "string") out[h] = v;
  }
  return { status: res.status, headers: out, body: res.body };
}

function upstreamError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const timeout = (err as Error).name === "TimeoutError";
  return new TesseraError(timeout ? "upstream_timeout" : "upstream_unavailable", undefined, {
    cause: err,
  });
}
