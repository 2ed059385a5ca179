import { describe, expect, it } from "vitest";
import { httpsUnlessLoopback, isLoopbackHost } from "../../src/guard/urls.js";

const reject = (why: string): never => {
  throw new TypeError(why);
};

describe("endpoint URLs: https unless loopback", () => {
  it("loopback hosts", () => {
    for (const h of ["localhost", "api.localhost", "127.0.0.1", "127.1.2.3", "[::1]"]) {
      expect(isLoopbackHost(h), h).toBe(true);
    }
    for (const h of ["example.com", "localhost.example", "128.0.0.1", "[::2]", "10.0.0.1"]) {
      expect(isLoopbackHost(h), h).toBe(false);
    }
  });

  it("plain http only to loopback; the message names what the URL carries", () => {
    expect(() => httpsUnlessLoopback(new URL("https://auth.example/x"), reject)).not.toThrow();
    expect(() => httpsUnlessLoopback(new URL("http://127.0.0.1:4000/x"), reject)).not.toThrow();
    expect(() => httpsUnlessLoopback(new URL("http://auth.example/x"), reject)).toThrow(
      /^must use https \(plain http is allowed for loopback hosts only\)$/,
    );
    expect(() =>
      httpsUnlessLoopback(new URL("http://auth.example/x"), reject, "the session cookie"),
    ).toThrow(
      /^must use https \(plain http is allowed for loopback hosts only\): it carries the session cookie$/,
    );
  });
});
