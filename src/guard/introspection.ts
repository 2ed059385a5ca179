/**
 * RFC 7662 introspection of opaque access tokens, as a resource server's client.
 *
 * One POST per token the opaque stage's caches (opaque.ts) do not answer:
 * `token=<token>&token_type_hint=access_token`, form-encoded, client_secret_basic,
 * `Accept: application/json`. Connections are kept alive and reused through a dedicated
 * node:http(s) Agent (LIFO, so the warmest socket is taken; idle sockets never outlive
 * the server's `Keep-Alive: timeout` hint and never keep the process alive). A request that fails on a reused socket before any response (the
 * server closed it while idle) is retried once on a fresh one: introspection is
 * read-only. The whole exchange has a deadline, the response a size limit, redirects are
 * not followed.
 *
 * This module only transports and parses; it says "inactive", "not issued" (Tessera's 429,
 * which it answers only for a token it never issued: docs/introspection-fishing.md), hands
 * back the active answer as a deep-frozen object for the guard to check like JWT claims,
 * or throws IntrospectionUnavailable — the guard then fails closed (503), never open.
 */
import { type ClientRequest, Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { parseJsonObject } from "./encoding.js";
import { type FetchLike, readLimited } from "./jwks.js";

/** Tessera answers in a few hundred bytes; anything this large is not an introspection answer. */
export const INTROSPECTION_MAX_BYTES = 16 * 1024;
/** Upper bound on a Retry-After passed on from the introspection endpoint, in seconds. */
const MAX_RETRY_AFTER = 3600;
/** Concurrent introspection requests (and so connections) per guard. */
const MAX_SOCKETS = 64;
const MAX_FREE_SOCKETS = 16;
/** Idle sockets are dropped after this (or earlier, per the server's Keep-Alive hint). */
const IDLE_SOCKET_MS = 30_000;
const TOO_LARGE = "introspection response is too large";

export interface IntrospectionConfig {
  /** The endpoint URL (http(s), checked by the options). */
  url: string;
  /** The precomputed `Authorization: Basic ...` value (the secret is kept nowhere else). */
  authorization: string;
  /** Deadline for the whole exchange, ms. */
  timeoutMs: number;
  /** CA certificates (PEM) that verify an https endpoint; default Node's. */
  ca?: readonly string[];
}

/** The endpoint could not give an answer the guard can rely on. Never carries a token. */
export class IntrospectionUnavailable extends Error {
  constructor(
    message: string,
    /** Seconds, when the endpoint said (429/503 Retry-After). */
    readonly retryAfter?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "IntrospectionUnavailable";
  }
}

interface RawResponse {
  status: number;
  contentType: string;
  retryAfter: string | undefined;
  body: Buffer;
}

/** RFC 6749 §2.3.1: the client id and secret are form-urlencoded before base64. */
function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, "+");
}

export function basicAuthorization(clientId: string, clientSecret: string): string {
  const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
  return `Basic ${Buffer.from(pair, "utf8").toString("base64")}`;
}

function retryAfterOf(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,10}$/.test(value.trim())) return undefined;
  return Math.min(Math.max(1, Number(value.trim())), MAX_RETRY_AFTER);
}

/** Errors that mean "the idle connection we reused was closed under us". */
const STALE_SOCKET = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

export class Introspector {
  /** Requests started (for stats and tests). */
  requests = 0;
  private readonly agent: HttpAgent | undefined;
  private readonly request: typeof httpRequest;
  private readonly target: URL;

  constructor(
    private readonly config: IntrospectionConfig,
    /** An injected fetch (tests); otherwise node:http(s) with the keep-alive agent. */
    private readonly fetchImpl: FetchLike | undefined,
  ) {
    this.target = new URL(config.url);
    const https = this.target.protocol === "https:";
    this.request = https ? (httpsRequest as typeof httpRequest) : httpRequest;
    if (fetchImpl === undefined) {
      const agentOptions = {
        keepAlive: true,
        maxSockets: MAX_SOCKETS,
        maxFreeSockets: MAX_FREE_SOCKETS,
        scheduling: "lifo" as const,
        timeout: IDLE_SOCKET_MS,
        ...(config.ca === undefined ? {} : { ca: [...config.ca] }),
      };
      this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    }
  }

  /**
   * The active answer (deep-frozen), `false` for `active: false`, or "not_issued" for
   * Tessera's 429 (a JSON `rate_limited` error: it gives that only for a token it never
   * issued, to a client that sends many). Throws IntrospectionUnavailable for anything
   * else: network failure, timeout, another non-200 (401: our credentials are wrong; a
   * 429 that is not Tessera's, from a proxy say), oversized or malformed answer.
   */
  async introspect(token: string): Promise<Record<string, unknown> | false | "not_issued"> {
    this.requests++;
    const body = `token=${formEncode(token)}&token_type_hint=access_token`;
    const headers = {
      authorization: this.config.authorization,
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.config.timeoutMs);
    timer.unref?.();
    let raw: RawResponse;
    try {
      raw =
        this.fetchImpl === undefined
          ? await this.viaHttp(headers, body, controller.signal)
          : await this.viaFetch(headers, body, controller.signal);
    } catch (err) {
      if (err instanceof IntrospectionUnavailable) throw err;
      const message = controller.signal.aborted
        ? "introspection timed out"
        : "introspection request failed";
      throw new IntrospectionUnavailable(message, undefined, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    return interpret(raw);
  }

  /** Closes every connection (requests in flight fail); later requests open new ones. */
  close(): void {
    this.agent?.destroy();
  }

  private async viaFetch(
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<RawResponse> {
    const fetchImpl = this.fetchImpl as FetchLike;
    const res = await fetchImpl(this.config.url, {
      method: "POST",
      body,
      headers,
      signal,
      redirect: "error",
    });
    const declared = Number(res.headers.get("content-length") ?? "0");
    if (declared > INTROSPECTION_MAX_BYTES) {
      void res.body?.cancel().catch(() => {});
      throw new IntrospectionUnavailable(TOO_LARGE);
    }
    let bytes: Buffer;
    try {
      bytes = await readLimited(res, INTROSPECTION_MAX_BYTES, TOO_LARGE);
    } catch (err) {
      if (err instanceof Error && err.message === TOO_LARGE) {
        throw new IntrospectionUnavailable(TOO_LARGE);
      }
      throw err;
    }
    return {
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      retryAfter: res.headers.get("retry-after") ?? undefined,
      body: bytes,
    };
  }

  private async viaHttp(
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<RawResponse> {
    try {
      return await this.postOnce(headers, body, signal);
    } catch (err) {
      // The server may close an idle keep-alive connection just as we reuse it: retry
      // once, on a new connection (the agent drops the dead one).
      const e = err as { reusedSocket?: boolean; code?: string };
      if (!signal.aborted && e.reusedSocket === true && STALE_SOCKET.has(e.code ?? "")) {
        return this.postOnce(headers, body, signal);
      }
      throw err;
    }
  }

  private postOnce(
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal,
  ): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      let req: ClientRequest;
      let responded = false;
      try {
        req = this.request(this.target, {
          method: "POST",
          agent: this.agent,
          signal,
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        });
      } catch (err) {
        reject(err);
        return;
      }
      req.on("error", (err: Error & { reusedSocket?: boolean }) => {
        if (!responded) err.reusedSocket = req.reusedSocket;
        reject(err);
      });
      req.on("response", (res) => {
        responded = true;
        const declared = Number(res.headers["content-length"] ?? "0");
        if (declared > INTROSPECTION_MAX_BYTES) {
          req.destroy();
          reject(new IntrospectionUnavailable(TOO_LARGE));
          return;
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on("data", (chunk: Buffer) => {
          total += chunk.length;
          if (total > INTROSPECTION_MAX_BYTES) {
            req.destroy();
            reject(new IntrospectionUnavailable(TOO_LARGE));
            return;
          }
          chunks.push(chunk);
        });
        res.on("error", reject);
        res.on("aborted", () => reject(new Error("introspection response aborted")));
        res.on("end", () => {
          const retryAfter = res.headers["retry-after"];
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers["content-type"] ?? "",
            retryAfter: typeof retryAfter === "string" ? retryAfter : undefined,
            body: Buffer.concat(chunks, total),
          });
        });
      });
      req.end(body);
    });
  }
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Tessera's refusal of a forged token: 429, JSON, `"error": "rate_limited"`. */
function isForgedRefusal(raw: RawResponse): boolean {
  if (raw.status !== 429 || !JSON_TYPE.test(raw.contentType)) return false;
  const body = parseJsonObject(raw.body);
  return typeof body !== "string" && body.error === "rate_limited";
}

/** RFC 7662 §2.2: a JSON object whose `active` is a boolean; anything else is unusable. */
function interpret(raw: RawResponse): Record<string, unknown> | false | "not_issued" {
  if (isForgedRefusal(raw)) return "not_issued";
  if (raw.status !== 200) {
    const retryAfter =
      raw.status === 429 || raw.status === 503 ? retryAfterOf(raw.retryAfter) : undefined;
    const why =
      raw.status === 401 || raw.status === 403
        ? "the introspection endpoint refused the guard's client credentials"
        : raw.status === 429
          ? "introspection answered HTTP 429 without Tessera's forged-token refusal"
          : `introspection answered HTTP ${raw.status}`;
    throw new IntrospectionUnavailable(why, retryAfter);
  }
  if (!JSON_TYPE.test(raw.contentType)) {
    throw new IntrospectionUnavailable("introspection response is not JSON");
  }
  const answer = parseJsonObject(raw.body);
  if (typeof answer === "string") {
    throw new IntrospectionUnavailable("introspection response is not a strict JSON object");
  }
  if (answer.active === false) return false;
  if (answer.active !== true) {
    throw new IntrospectionUnavailable("introspection response has no boolean active member");
  }
  return answer;
}
