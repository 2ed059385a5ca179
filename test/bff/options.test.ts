import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BFF_LIMITS, bffOptionsTable, resolveBffOptions } from "../../src/bff/options.js";
import { BFF_TABLE_END, BFF_TABLE_START } from "../../src/config/docs.js";

const OK = {
  issuer: "https://auth.example",
  clientId: "spa",
  clientSecret: "s",
  publicUrl: "https://app.example",
  upstreams: { orders: "https://orders.internal/v1/" },
};

describe("BFF options", () => {
  it("the README's table is the one generated from BFF_LIMITS (npm run docs:config)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const start = readme.indexOf(BFF_TABLE_START) + BFF_TABLE_START.length;
    expect(readme.slice(start, readme.indexOf(BFF_TABLE_END)).trim()).toBe(bffOptionsTable());
  });

  it("defaults every limit and derives the redirect URI from the public origin", () => {
    const o = resolveBffOptions(OK);
    for (const [k, spec] of Object.entries(BFF_LIMITS)) {
      expect(o[k as keyof typeof BFF_LIMITS], k).toBe(spec.default);
    }
    expect(o.redirectUri).toBe("https://app.example/bff/callback");
    expect(o.issuerUrl).toBe("https://auth.example");
    expect(o.revocations).toBe(true);
  });

  it("refuses what would be unsafe or meaningless, naming the option (config_invalid)", () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ issuer: "ftp://x" }, /issuer/],
      [{ clientSecret: "" }, /secret/],
      [{ publicUrl: "https://app.example/spa" }, /origin/],
      [{ upstreams: {} }, /upstream/],
      [{ upstreams: { "a/b": "http://x/" } }, /upstream name/],
      [{ upstreams: { a: "http://u:p@x/" } }, /credentials/],
      [{ upstreams: { a: "javascript:alert(1)" } }, /http/],
      [{ bodyLimit: 10 }, /bodyLimit/],
      [{ refreshWaiters: 1.5 }, /refreshWaiters/],
    ];
    for (const [change, message] of bad) {
      expect(
        () => resolveBffOptions({ ...OK, ...change } as never),
        JSON.stringify(change),
      ).toThrow(message);
    }
  });
});
