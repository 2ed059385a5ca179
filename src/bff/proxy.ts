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

/** Dot segments (`.`, `..`, percent-encoded or not) anywhere in `rest`: refused. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|\?|$)/i;
/** An encoded `/` or `\` in the path: refused (an upstream might decode it and climb). */
const ENCODED_SLASH = /%2f|%5c/i;
/**
 * A `rest` the WHATWG URL parser keeps byte for byte (no character it would encode,
 * normalise or read as a separator: unreserved, sub-delims but `'`, `:`, `@`, `/`, `?`,
 * `%`): once free of dot segments it needs no parse, the upstream path is base + rest.
 * (An empty query, a trailing `?`, is dropped by the parser: not verbatim.)
 */
const VERBATIM = /^[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;

function refused(rest: string): boolean {
  if (rest.includes("\\") || DOT_SEGMENT.test(rest)) return true;
  const q = rest.indexOf("?");
  return ENCODED_SLASH.test(q === -1 ? rest : rest.slice(0, q));
}

function prefixOf(base: URL): string {
  return base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
}

/** The upstream URL for `rest` under `base`, or undefined if it would leave `base`. */
export function upstreamUrl(base: URL, rest: string): URL | undefined {
  if (refused(rest)) return undefined;
  const prefix = prefixOf(base);
  let url: URL;
  try {
    url = new URL(`${base.origin}${prefix}${rest}`);
  } catch {
    return undefined;
  }
  if (url.origin !== base.origin || !url.pathname.startsWith(prefix)) return undefined;
  return url;
}

/**
 * The request path (path and query) of `upstreamUrl(base, rest)`, or undefined when that
 * is undefined: for a verbatim `rest`, without parsing a URL (most API calls).
 */
export function upstreamPath(base: URL, rest: string): string | undefined {
  if (VERBATIM.test(rest) && !rest.endsWith("?"))
    return refused(rest) ? undefined : `${prefixOf(base)}${rest}`;
  const url = upstreamUrl(base, rest);
  return url === undefined ? undefined : `${url.pathname}${url.search}`;
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

/** Where an upstream's requests go: worked out once per upstream, not per request. */
interface Target {
  request: typeof httpRequest;
  protocol: string;
  hostname: string;
  port: string;
  agent: HttpAgent;
}

const targets = new WeakMap<URL, Target>();

function targetOf(base: URL): Target {
  let t = targets.get(base);
  if (t === undefined) {
    const https = base.protocol === "https:";
    t = {
      request: https ? httpsRequest : httpRequest,
      protocol: base.protocol,
      hostname: base.hostname.startsWith("[") ? base.hostname.slice(1, -1) : base.hostname,
      port: base.port,
      agent: https ? agents["https:"] : agents["http:"],
    };
    targets.set(base, t);
  }
  return t;
}

/**
 * One request to an upstream with node:http (a keep-alive agent; WHATWG fetch costs
 * several times more per request), its whole answer read up to `limit` bytes, all within
 * `timeoutMs` (else `upstream_timeout`).
 */
function send(
  target: Target,
  path: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer | undefined,
  timeoutMs: number,
  limit: number,
): Promise<Upstreamed> {
  return new Promise((resolve, reject) => {
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
    // Plain options rather than a URL: node:http would convert it on every call.
    const options = {
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      path,
      method,
      headers,
      agent: target.agent,
    };
    const req = target.request(options, (res) => {
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
          // One chunk (most answers): no copy.
          body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size),
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
  const path = upstreamPath(base, req.rest);
  if (path === undefined)
    throw new TesseraError("invalid_request", "The path leaves the upstream.");
  const headers: Record<string, string> = { authorization: `Bearer ${accessToken}` };
  for (const h of REQUEST_HEADERS) {
    const v = req.headers[h];
    if (typeof v === "string") headers[h] = v;
  }
  const withBody = req.method !== "GET" && req.method !== "HEAD" && req.body !== undefined;
  if (withBody) headers["content-length"] = String(req.body?.length ?? 0);
  const res = await send(
    targetOf(base),
    path,
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
