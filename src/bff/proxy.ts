/**
 * `/bff/api/NAME/*` → the upstream registered as NAME, nothing else (an allow-list of
 * names; the path cannot climb out of the upstream's base path). The request goes with
 * `Authorization: Bearer <the session's access token>` and only a few end-to-end headers
 * of the browser's (never its cookies, never its Authorization); the answer comes back
 * without the upstream's cookies. Bodies both ways are bounded, and the upstream has
 * `upstreamTimeout` to answer (504 `upstream_timeout`; unreachable: 502
 * `upstream_unavailable`).
 */
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

async function readBounded(res: Response, limit: number): Promise<Buffer> {
  const declared = Number(res.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await res.body?.cancel();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  if (res.body === null) return Buffer.alloc(0);
  for await (const chunk of res.body) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge();
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
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
  let res: Response;
  try {
    res = await fetch(url, {
      method: req.method,
      headers,
      ...(withBody ? { body: req.body } : {}),
      redirect: "manual",
      signal: AbortSignal.timeout(o.upstreamTimeout),
    });
  } catch (err) {
    throw upstreamError(err);
  }
  let body: Buffer;
  try {
    body = await readBounded(res, o.responseLimit);
  } catch (err) {
    throw upstreamError(err);
  }
  const out: Record<string, string> = {};
  for (const h of RESPONSE_HEADERS) {
    const v = res.headers.get(h);
    if (v !== null) out[h] = v;
  }
  // A redirect would point into the upstream's own URL space: not passed on as one.
  const status = res.status >= 300 && res.status < 400 && res.status !== 304 ? 502 : res.status;
  if (status === 502 && res.status !== 502)
    throw new TesseraError("upstream_unavailable", "The upstream answered with a redirect.");
  return { status, headers: out, body };
}

function upstreamError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const timeout = (err as Error).name === "TimeoutError";
  return new TesseraError(timeout ? "upstream_timeout" : "upstream_unavailable", undefined, {
    cause: err,
  });
}
