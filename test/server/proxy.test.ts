import { afterEach, describe, expect, it } from "vitest";
import { isProxyAddress } from "../../src/server/proxy.js";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

describe("--trust-proxy", () => {
  it("knows which peers can be proxies", () => {
    for (const a of [
      "127.0.0.1",
      "::1",
      "10.1.2.3",
      "172.16.0.1",
      "172.31.255.255",
      "192.168.1.1",
      "::ffff:10.0.0.1",
      "fd12:3456::1",
      "fe80::1",
      "100.64.0.1",
    ]) {
      expect(isProxyAddress(a), a).toBe(true);
    }
    for (const a of [
      "203.0.113.9",
      "8.8.8.8",
      "172.32.0.1",
      "2001:db8::1",
      "::ffff:8.8.8.8",
      "nonsense",
    ]) {
      expect(isProxyAddress(a), a).toBe(false);
    }
  });

  it("believes X-Forwarded-For only from a proxy address", async () => {
    s = await testServer({
      settings: { trustProxy: "1", loginIpLimit: "2", loginAccountLimit: "1000" },
    });
    const attempt = (remoteAddress: string, xff: string) =>
      s.app.inject({
        method: "POST",
        url: "/login",
        remoteAddress,
        headers: { "x-forwarded-for": xff },
        payload: { username: "nobody", password: "wrong password" },
      });
    // Straight from the internet: a forged header changes nothing, the peer is the client.
    const direct = [];
    for (let i = 0; i < 4; i++)
      direct.push((await attempt("203.0.113.9", `198.51.100.${i}`)).statusCode);
    expect(direct).toEqual([401, 401, 429, 429]);
    // Through a proxy on the private network: the forwarded client address counts.
    const proxied = [];
    for (let i = 0; i < 3; i++)
      proxied.push((await attempt("10.0.0.5", `198.51.100.${i}`)).statusCode);
    expect(proxied).toEqual([401, 401, 401]);
  });

  it("metrics cannot be reached by forging a loopback X-Forwarded-For", async () => {
    s = await testServer({ settings: { trustProxy: "1" } });
    const res = await s.app.inject({
      url: "/metrics",
      remoteAddress: "203.0.113.9",
      headers: { "x-forwarded-for": "127.0.0.1" },
    });
    expect(res.statusCode).toBe(404);
  });
});
