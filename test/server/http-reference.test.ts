/**
 * No undocumented pathway (OWASP ASVS 6.3.4): every route the server answers, with each
 * of its methods, has a row in the README's HTTP reference.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

/** Every route of Fastify's printRoutes tree: its full path and methods (HEAD left out). */
function routes(tree: string): { path: string; methods: string[] }[] {
  const found: { path: string; methods: string[] }[] = [];
  const prefixes: string[] = [];
  for (const line of tree.split("\n")) {
    const m = /^([│ ]*)[└├]── (\S+) \(([A-Z, ]+)\)$/.exec(line);
    if (m === null) continue;
    const depth = (m[1] as string).length / 4;
    const path = (prefixes[depth - 1] ?? "") + (m[2] as string);
    prefixes[depth] = path;
    prefixes.length = depth + 1;
    const methods = (m[3] as string).split(", ").filter((x) => x !== "HEAD");
    found.push({ path, methods });
  }
  return found;
}

describe("the README's HTTP reference", () => {
  it("documents every route the server answers, with each of its methods", async () => {
    s = await testServer();
    const all = routes(s.app.printRoutes({ commonPrefix: false }));
    expect(all.map((r) => r.path)).toContain("/oauth/authorize/decision");
    expect(all.length).toBeGreaterThan(20);
    const readme = readFileSync(join(import.meta.dirname, "../../README.md"), "utf8");
    const reference = readme.slice(
      readme.indexOf("## HTTP reference"),
      readme.indexOf("## CLI reference"),
    );
    // The first cell of each row: e.g. "`GET` · `POST /userinfo`".
    const cells = [...reference.matchAll(/^\| (`[^|]*`) \|/gm)].map((m) => m[1] as string);
    const undocumented: string[] = [];
    for (const { path, methods } of all) {
      const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const row = cells.find((c) => new RegExp(`${escaped}(?![\\w/:.-])`).test(c));
      for (const method of methods) {
        if (row === undefined || !row.includes(method)) undocumented.push(`${method} ${path}`);
      }
    }
    expect(undocumented).toEqual([]);
  });
});
