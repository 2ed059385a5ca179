/**
 * A guard with no revocation source (no feed, no `denylist`) accepts a revoked token until
 * it expires: createGuard says so once per process, as a Node warning with the code
 * TESSERA_GUARD_NO_REVOCATION, unless `revocations: false` (or `{ enabled: false }`) says
 * the caller knows. In child processes importing the built guard (the test workers mark the
 * warning as given: test/support/guard-warning.ts).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { NO_REVOCATION_CODE, NO_REVOCATION_WARNING } from "../../src/guard/warnings.js";
import { childEnv } from "../support/process.js";
import { ED } from "./support.js";

const GUARD = pathToFileURL(join(import.meta.dirname, "../../dist/guard/index.js")).href;

/**
 * Creates a guard per options object (each with an inline key set), in a fresh process;
 * `copies` loads the guard module that many times (as two packages would). Returns the
 * warnings seen and stderr.
 */
function guardsIn(options: Record<string, unknown>[], copies = 1) {
  const script = `
    const warnings = [];
    process.on("warning", (w) => warnings.push({ name: w.name, code: w.code, message: w.message }));
    const mods = [];
    for (let i = 0; i < ${copies}; i++) mods.push(await import(${JSON.stringify(GUARD)} + "?copy=" + i));
    const list = JSON.parse(process.env.GUARD_OPTIONS);
    const guards = list.map((o, i) =>
      mods[i % mods.length].createGuard({
        issuer: "https://auth.example.test",
        audience: "orders-api",
        jwks: { keys: [JSON.parse(process.env.JWK)] },
        ...o,
      }),
    );
    for (const g of guards) g.close();
    setImmediate(() => console.log(JSON.stringify(warnings)));
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 15_000,
    env: childEnv({ GUARD_OPTIONS: JSON.stringify(options), JWK: JSON.stringify(ED.jwk) }),
  });
  expect(r.status, r.stderr).toBe(0);
  return {
    warnings: JSON.parse(r.stdout) as { name: string; code: string; message: string }[],
    stderr: r.stderr,
  };
}

describe("createGuard without a revocation source", () => {
  it("warns once per process, with a stable code and the fix, however many guards", () => {
    const { warnings, stderr } = guardsIn([{}, {}, { cacheSize: 0 }]);
    expect(warnings).toEqual([
      { name: "Warning", code: NO_REVOCATION_CODE, message: NO_REVOCATION_WARNING },
    ]);
    expect(stderr.match(/\[TESSERA_GUARD_NO_REVOCATION\]/g)).toHaveLength(1);
    for (const fix of ["introspection", "--introspect", "denylist", "revocations: false"]) {
      expect(NO_REVOCATION_WARNING).toContain(fix);
    }
  });

  it("once even when the guard module is loaded twice (tessera/guard and @tessera/guard)", () => {
    expect(guardsIn([{}, {}], 2).warnings).toHaveLength(1);
  });

  it("revocations: false, or { enabled: false }, is the explicit opt-out: no warning", () => {
    expect(guardsIn([{ revocations: false }, { revocations: { enabled: false } }])).toEqual({
      warnings: [],
      stderr: "",
    });
  });

  it("a denylist, or the feed (introspection credentials), is a source: no warning", () => {
    const withSources = `
      const warnings = [];
      process.on("warning", (w) => warnings.push(w.code));
      const { createGuard } = await import(${JSON.stringify(GUARD)});
      const base = { issuer: "http://127.0.0.1:9", audience: "a", jwks: { keys: [JSON.parse(process.env.JWK)] } };
      createGuard({ ...base, denylist: { isRevoked: () => false } }).close();
      createGuard({ ...base, introspection: { clientId: "rs", clientSecret: "s" } }).close();
      setImmediate(() => console.log(JSON.stringify(warnings)));
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", withSources], {
      encoding: "utf8",
      timeout: 15_000,
      env: childEnv({ JWK: JSON.stringify(ED.jwk) }),
    });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});
