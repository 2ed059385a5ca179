/**
 * `@tessera/guard` (packages/guard) is the guard as a package of its own: `npm pack`ed,
 * installed into an empty project, it verifies a token with none of the server's
 * dependencies present. Skipped with a warning when `npm` is not on the PATH.
 */
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const PKG_DIR = join(ROOT, "packages/guard");

interface Manifest {
  name: string;
  version: string;
  type?: string;
  engines?: Record<string, string>;
  exports: Record<string, unknown>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  scripts?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

const root = readManifest(ROOT);
const pkg = readManifest(PKG_DIR);
const ADAPTERS = ["express", "fastify", "hono", "fetch"] as const;
/** What an API that only verifies tokens must not get: the server's dependencies. */
const SERVER_ONLY = ["better-sqlite3", "@node-rs/argon2", "ioredis", "fastify", "jose", "pino"];

describe("packages/guard/package.json", () => {
  it("is @tessera/guard, ESM, at the root's version and engines", () => {
    expect(pkg.name).toBe("@tessera/guard");
    expect(pkg.type).toBe("module");
    expect(pkg.version).toBe(root.version);
    expect(pkg.engines).toEqual(root.engines);
    expect(pkg.files).toEqual([
      "dist",
      "src/guard/README.md",
      "docs/revocation-feed.md",
      "docs/introspection-fishing.md",
      "README.md",
    ]);
    expect(pkg.scripts?.prepack).toBeDefined();
  });

  it("depends on nothing; the frameworks are optional peers", () => {
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(Object.keys(pkg.peerDependencies ?? {}).sort()).toEqual(["express", "fastify", "hono"]);
    for (const name of Object.keys(pkg.peerDependencies ?? {})) {
      expect(pkg.peerDependenciesMeta?.[name]?.optional, name).toBe(true);
    }
  });

  it("exports the same modules as tessera/guard (one build layout, rootDir src/)", () => {
    expect(pkg.exports["."]).toEqual(root.exports["./guard"]);
    for (const adapter of ADAPTERS) {
      expect(pkg.exports[`./${adapter}`], adapter).toEqual(root.exports[`./guard/${adapter}`]);
    }
    expect(Object.keys(pkg.exports).sort()).toEqual(
      [".", "./package.json", ...ADAPTERS.map((a) => `./${a}`)].sort(),
    );
  });
});

function run(cmd: string, args: string[], cwd: string, timeout = 120_000) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    timeout,
    env: {
      ...process.env,
      npm_config_audit: "false",
      npm_config_fund: "false",
      npm_config_update_notifier: "false",
    },
  });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${r.status ?? r.signal ?? r.error?.message}):\n${r.stdout}\n${r.stderr}`,
    );
  }
  return r.stdout;
}

const hasNpm = spawnSync("npm", ["--version"], { encoding: "utf8", timeout: 30_000 }).status === 0;
if (!hasNpm) console.warn("@tessera/guard packaging test skipped: npm is not on the PATH");
const describeNpm = hasNpm ? describe : describe.skip;

/** The consumer's script: every entry point loads; a token signed by the test verifies. */
const CONSUMER_SCRIPT = `
import { createGuard, isGuardError, ManualClock, requireScopes } from "@tessera/guard";
import * as express from "@tessera/guard/express";
import * as fastify from "@tessera/guard/fastify";
import * as hono from "@tessera/guard/hono";
import * as fetchAdapter from "@tessera/guard/fetch";

const { jwks, token, forged, now } = JSON.parse(process.env.GUARD_INPUT);
const guard = createGuard({
  issuer: "https://auth.example.test",
  audience: "orders-api",
  algorithms: ["ES256"],
  jwks,
  clock: new ManualClock(now),
  revocations: false, // an inline key set and no feed: said so, no warning
});
const principal = await guard.verify({ authorization: "Bearer " + token });
requireScopes(principal, "orders:read");
let refused;
try {
  await guard.verify({ authorization: "Bearer " + forged });
} catch (err) {
  refused = isGuardError(err) ? { code: err.code, status: err.status } : String(err);
}
console.log(JSON.stringify({
  sub: principal.sub,
  clientId: principal.clientId,
  scopes: principal.scopes,
  credential: principal.credential,
  refused,
  adapters: [typeof express.guard, typeof fastify.fastifyGuard, typeof hono.honoGuard, typeof fetchAdapter.protect],
}));
`;

function es256Token(privateKey: KeyObject, kid: string, now: number): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const input = `${b64({ alg: "ES256", typ: "at+jwt", kid })}.${b64({
    iss: "https://auth.example.test",
    sub: "user-42",
    aud: "orders-api",
    iat: now,
    exp: now + 900,
    jti: "jti-packaged-1",
    client_id: "cli-1",
    scope: "orders:read",
  })}`;
  const sig = sign("sha256", Buffer.from(input), { key: privateKey, dsaEncoding: "ieee-p1363" });
  return `${input}.${sig.toString("base64url")}`;
}

describeNpm("@tessera/guard, packed and installed into an empty project", () => {
  let tmp = "";
  let project = "";

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), "tessera-guard-pack-"));
    const packDir = join(tmp, "pack");
    mkdirSync(packDir);
    // prepack builds packages/guard/dist from ../../src first.
    run("npm", ["pack", "--pack-destination", packDir], PKG_DIR);
    const tarballs = readdirSync(packDir).filter((f) => f.endsWith(".tgz"));
    expect(tarballs).toEqual([`tessera-guard-${root.version}.tgz`]);

    project = join(tmp, "consumer");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }),
    );
    run(
      "npm",
      ["install", "--offline", "--ignore-scripts", join(packDir, tarballs[0] as string)],
      project,
    );
  }, 240_000);

  afterAll(() => {
    if (tmp !== "") rmSync(tmp, { recursive: true, force: true });
  });

  it("installs nothing but itself: none of the server's dependencies", () => {
    const modules = join(project, "node_modules");
    for (const name of SERVER_ONLY) {
      expect(existsSync(join(modules, name)), name).toBe(false);
    }
    const installed = readdirSync(modules).filter((f) => !f.startsWith("."));
    expect(installed).toEqual(["@tessera"]);
    expect(readdirSync(join(modules, "@tessera"))).toEqual(["guard"]);
  });

  it("ships the guard's sources only, with every export's types", () => {
    const dir = join(project, "node_modules/@tessera/guard");
    const dist = readdirSync(join(dir, "dist"), { recursive: true, encoding: "utf8" }).filter((f) =>
      f.endsWith(".js"),
    );
    expect(dist).toContain("guard/index.js");
    const outside = dist.filter(
      (f) =>
        !/^(guard|shared)\//.test(f) &&
        !["errors.js", "clock.js", "crypto/token-shape.js"].includes(f),
    );
    expect(outside).toEqual([]);
    expect(existsSync(join(dir, "README.md"))).toBe(true);
    for (const target of Object.values(readManifest(dir).exports)) {
      if (typeof target === "string") continue; // ./package.json
      const { types, default: js } = target as { types: string; default: string };
      expect(existsSync(join(dir, types)), types).toBe(true);
      expect(existsSync(join(dir, js)), js).toBe(true);
    }
  });

  it("verifies an ES256 token against an inline JWKS, and refuses a forged one", () => {
    const now = Date.UTC(2026, 0, 1);
    const nowSec = now / 1000;
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const other = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = { ...publicKey.export({ format: "jwk" }), kid: "ec-1", alg: "ES256", use: "sig" };
    const input = {
      jwks: { keys: [jwk] },
      token: es256Token(privateKey, "ec-1", nowSec),
      forged: es256Token(other.privateKey, "ec-1", nowSec),
      now,
    };
    writeFileSync(join(project, "verify.mjs"), CONSUMER_SCRIPT);
    const r = spawnSync(process.execPath, ["verify.mjs"], {
      cwd: project,
      encoding: "utf8",
      timeout: 30_000,
      env: { PATH: process.env.PATH ?? "", GUARD_INPUT: JSON.stringify(input) },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      sub: "user-42",
      clientId: "cli-1",
      scopes: ["orders:read"],
      credential: "jwt",
      refused: { code: "invalid_token", status: 401 },
      adapters: ["function", "function", "function", "function"],
    });
  });
});
