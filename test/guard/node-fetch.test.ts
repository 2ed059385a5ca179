/**
 * `nodeFetch` (src/guard/tls.ts), the FetchLike over node:http(s) that the guard's JWKS
 * and the BFF's calls to Tessera use when a `ca` is given: it behaves as the global fetch
 * does where they rely on it (status, headers, body, POST, no redirect followed, an
 * abort rejecting with the signal's reason, so a timeout stays a TimeoutError).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeFetch } from "../../src/guard/tls.js";

describe("nodeFetch", () => {
  let server: Server;
  let base: string;
  const fetch = nodeFetch([]);

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/redirect") {
        res.writeHead(302, { location: "/json" }).end();
      } else if (req.url === "/hang") {
        // never answers
      } else if (req.url === "/empty") {
        res.writeHead(204).end();
      } else {
        let body = "";
        req.on("data", (c) => {
          body += c;
        });
        req.on("end", () => {
          res.writeHead(200, { "content-type": "application/json", "x-one": "1" });
          res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization }));
        });
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const init = (signal = AbortSignal.timeout(5000)) => ({
    signal,
    redirect: "error" as const,
    headers: { authorization: "Basic eDp5" },
  });

  it("gives the status, headers and body; sends a POST's body", async () => {
    const res = await fetch(`${base}/json`, { ...init(), method: "POST", body: "a=1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-one")).toBe("1");
    expect(await res.json()).toEqual({ method: "POST", body: "a=1", auth: "Basic eDp5" });
    const empty = await fetch(`${base}/empty`, init());
    expect(empty.status).toBe(204);
    expect(empty.body).toBeNull();
  });

  it("follows no redirect: redirect 'error' rejects", async () => {
    await expect(fetch(`${base}/redirect`, init())).rejects.toThrow(/redirect refused/);
  });

  it("an abort rejects with the signal's reason (a timeout: TimeoutError)", async () => {
    const controller = new AbortController();
    const pending = fetch(`${base}/hang`, init(controller.signal)).then(
      () => undefined,
      (e: unknown) => e,
    );
    // What AbortSignal.timeout does when its time is up, without waiting for it.
    controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
    expect(((await pending) as Error).name).toBe("TimeoutError");
  });
});
