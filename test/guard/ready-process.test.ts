/**
 * `await guard.ready()` before `listen()`, as an API's start-up script does it, in a real
 * Node process importing the built guard (dist/): it either gets ready or the process
 * stops with a GuardError naming the cause on stderr and exit code 1 — never the silent
 * exit 13 ("unsettled top-level await") of a pending promise with every guard timer
 * unref'd, and never fetch's bare `TypeError: fetch failed`. Against a real
 * `tessera serve` (wrong secret, a client without --introspect, the right one), stub
 * issuers (403, TLS with an untrusted certificate) and a port nobody listens on.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  childEnv,
  clientSecretOf,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { ED } from "./support.js";

const GUARD = pathToFileURL(join(import.meta.dirname, "../../dist/guard/index.js")).href;
const AUDIENCE = "https://api.example.test";

/** The start-up of an API: create the guard, wait for it, then (here) report and stop. */
const SCRIPT = `
import { createGuard } from ${JSON.stringify(GUARD)};
const guard = createGuard(JSON.parse(process.env.GUARD_OPTIONS));
await guard.ready();
console.log("ready:", guard.feedState().status);
guard.close();
`;

let dir = "";
let script = "";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the start-up script with these guard options; resolves when the process exits. */
function startUp(options: Record<string, unknown>): Promise<Run> {
  const child = spawn(process.execPath, [script], {
    env: childEnv({ GUARD_OPTIONS: JSON.stringify(options) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    stderr += c;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the start-up script did not exit\n${stdout}\n${stderr}`));
    }, 15_000);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The process stopped on ready()'s GuardError with this reason, printed by Node. */
function expectStopped(run: Run, reason: string, secret?: string): void {
  expect(run.stdout).toBe("");
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/GuardError: The /);
  expect(run.stderr).toContain(`reason: '${reason}'`);
  expect(run.stderr).not.toMatch(/^TypeError/m); // fetch's own error is only a cause
  if (secret !== undefined) expect(run.stderr).not.toContain(secret);
}

/** The URL of a loopback port nobody listens on (any more). */
async function nobodyListening(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tessera-guard-ready-"));
  script = join(dir, "start.mjs");
  writeFileSync(script, SCRIPT);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("await guard.ready() against a real tessera serve", () => {
  let server: ServerProcess;
  let rsSecret = "";
  let svcSecret = "";

  beforeAll(async () => {
    const data = tempDataDir();
    const add = async (id: string, ...more: string[]) => {
      const r = await runCli([
        "client",
        "add",
        id,
        "--grants",
        "client_credentials",
        "--audience",
        AUDIENCE,
        ...more,
        "--data",
        data,
        "--init",
      ]);
      return clientSecretOf(r.stdout);
    };
    rsSecret = await add("rs", "--introspect");
    svcSecret = await add("svc");
    server = await startServer(["--data", data]);
  }, 60_000);

  afterAll(async () => {
    await stopAllServers();
    removeTempDirs();
  });

  const options = (clientId: string, clientSecret: string) => ({
    issuer: server.url,
    audience: AUDIENCE,
    introspection: { clientId, clientSecret },
  });

  it("the right client: ready, the feed live, the process exits by itself", async () => {
    const run = await startUp(options("rs", rsSecret));
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe("ready: live\n");
    expect(run.code).toBe(0);
  });

  it("a wrong secret: stops with credentials_rejected (was: exit 13, nothing printed)", async () => {
    const wrong = `${rsSecret.slice(0, -4)}AAAA`;
    const run = await startUp(options("rs", wrong));
    expectStopped(run, "credentials_rejected", wrong);
    expect(run.stderr).toContain("introspection.clientSecret");
  });

  it("a client without --introspect: stops with client_not_allowed", async () => {
    const run = await startUp(options("svc", svcSecret));
    expectStopped(run, "client_not_allowed", svcSecret);
    expect(run.stderr).toContain("--introspect");
  });
});

describe("await guard.ready() against stub issuers", () => {
  const servers: (Server | HttpsServer)[] = [];
  const inline = { audience: AUDIENCE, jwks: { keys: [ED.jwk] } };
  const secret = "a-secret-never-printed";

  const listen = async (server: Server | HttpsServer, scheme: string): Promise<string> => {
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  afterAll(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it("a 403 from the feed: stops with client_not_allowed", async () => {
    const base = await listen(
      createServer((_req, res) =>
        res.writeHead(403, { "content-type": "application/json" }).end("{}"),
      ),
      "http",
    );
    const run = await startUp({
      ...inline,
      issuer: base,
      introspection: { clientId: "rs", clientSecret: secret },
    });
    expectStopped(run, "client_not_allowed", secret);
  });

  it("nobody listening: waits readyTimeout, then stops with issuer_unreachable (was: exit 13)", async () => {
    const issuer = await nobodyListening();
    const run = await startUp({
      ...inline,
      issuer,
      introspection: { clientId: "rs", clientSecret: secret },
      revocations: { readyTimeout: 0.5 },
    });
    expectStopped(run, "issuer_unreachable", secret);
    expect(run.stderr).toContain("ECONNREFUSED");
    expect(run.stderr).toContain(`(${issuer}/events/revocations)`);
  });

  it("the issuer down, JWKS by URL: issuer_unreachable, not a bare TypeError: fetch failed", async () => {
    const issuer = await nobodyListening();
    const run = await startUp({ issuer, audience: AUDIENCE, revocations: false });
    expectStopped(run, "issuer_unreachable");
    expect(run.stderr).toContain("/.well-known/jwks.json");
  });

  const openssl = spawnSync("openssl", ["version"], { encoding: "utf8" }).status === 0;
  if (!openssl) console.warn("ready-process TLS test skipped: openssl is not on the PATH");

  it.skipIf(!openssl)(
    "a certificate the process does not trust: stops with issuer_tls_error",
    async () => {
      const key = join(dir, "key.pem");
      const cert = join(dir, "cert.pem");
      const gen = spawnSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          key,
          "-out",
          cert,
          "-days",
          "1",
          "-subj",
          "/CN=127.0.0.1",
        ],
        { encoding: "utf8" },
      );
      expect(gen.status, gen.stderr).toBe(0);
      const base = await listen(
        createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) =>
          res.end("{}"),
        ),
        "https",
      );
      const run = await startUp({
        ...inline,
        issuer: base,
        introspection: { clientId: "rs", clientSecret: secret },
      });
      expectStopped(run, "issuer_tls_error", secret);
      expect(run.stderr).toContain("SELF_SIGNED");
    },
  );
});
