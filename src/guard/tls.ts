/**
 * The `ca` option (guard, BFF): the CA certificates that verify the issuer's TLS
 * certificate, for a private PKI. It must reach every connection made to the issuer: the
 * introspection agent and the feed's requests take it as a node:https option; the JWKS
 * (and the BFF's calls) go through `nodeFetch`, a FetchLike over node:http(s), because
 * the global fetch takes no CA.
 */
import { X509Certificate } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import type { FetchLike } from "./jwks.js";

/** PEM text or bytes, or several: Node's `ca`. */
export type CaOption = string | Buffer | ReadonlyArray<string | Buffer>;

/** The checked `ca`: a list of PEM certificates (it replaces Node's default CAs). */
export type CaList = readonly string[];

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Checks a `ca` option: one or more PEM certificates that parse. Returns them, or the
 * reason (for the caller's own error) when they are not.
 */
export function checkCa(value: unknown): CaList | string {
  const items = Array.isArray(value) ? (value as unknown[]) : [value];
  if (items.length === 0) return "must hold at least one PEM certificate";
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== "string" && !Buffer.isBuffer(item)) {
      return "must be PEM text (string or Buffer) or an array of them";
    }
    const pems = String(item).match(PEM_CERT) ?? [];
    if (pems.length === 0) return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
    for (const pem of pems) {
      try {
        new X509Certificate(pem);
      } catch {
        return "holds a PEM certificate that does not parse";
      }
      out.push(pem);
    }
  }
  return out;
}

/** Statuses whose Response has no body. */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * A FetchLike over node:http(s) whose https connections trust `ca` only. Redirects are
 * never followed (`redirect: "error"` makes a 3xx an error, as fetch does).
 */
export function nodeFetch(ca: CaList): FetchLike {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const https = target.protocol === "https:";
      const request = https ? (httpsRequest as typeof httpRequest) : httpRequest;
      const req = request(target, {
        method: init.method ?? "GET",
        headers: init.headers,
        signal: init.signal,
        ...(https ? { ca: [...ca] } : {}),
      });
      // As fetch: an aborted request rejects with the signal's reason (a TimeoutError
      // for AbortSignal.timeout), not node:http's AbortError.
      req.once("error", (err) => reject(init.signal.aborted ? init.signal.reason : err));
      req.once("response", (res) => {
        const status = res.statusCode ?? 0;
        if (init.redirect === "error" && status >= 300 && status < 400) {
          res.resume();
          reject(new TypeError(`redirect refused (HTTP ${status})`));
          return;
        }
        const headers = new Headers();
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
          headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
        }
        let body: ReadableStream | null = null;
        if (NO_BODY.has(status)) res.resume();
        else body = Readable.toWeb(res) as unknown as ReadableStream;
        try {
          resolve(new Response(body, { status, headers }));
        } catch (err) {
          res.destroy();
          reject(err);
        }
      });
      req.end(init.body);
    });
}
