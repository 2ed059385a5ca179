/**
 * Process helpers for the fault tests (test/e2e/faults-*.test.ts): a fleet of real
 * `tessera serve` processes on one PostgreSQL (+ one Redis) sharing TESSERA_SECRET, a
 * Redis of the test's own that keeps its data across a stop (append-only file, fsync on
 * every write), and a TCP round-robin proxy standing in for the load balancer in front
 * of the fleet (the guard takes one issuer URL: this is how it reaches "another instance").
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clientSecretOf, runCli, type ServerProcess, startServer, tempDataDir } from "./process.js";
import { freePort, stopRedis } from "./redis-server.js";

export const ISSUER = "http://auth.tessera.test";
export const AUDIENCE = "https://api.example.com";
export const REDIRECT = "https://app.example.com/callback";
export const PASSWORD = "Quartz-Meadow-Lantern-41";

// ── Redis that survives its own restart ──────────────────────────────────────────────

export interface DurableRedis {
  child: ChildProcess;
  url: string;
  port: number;
  dir: string;
}

function launchRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "yes",
      "--appendfsync",
      "always",
      "--daemonize",
      "no",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`redis-server did not start: ${output}`));
    }, 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${code}): ${output}`));
    });
  });
}

/** A redis-server with an append-only file fsynced on every write, on a free port. */
export async function startDurableRedis(): Promise<DurableRedis> {
  const dir = mkdtempSync(join(tmpdir(), "tessera-redis-"));
  const port = await freePort();
  const child = await launchRedis(port, dir);
  return { child, port, dir, url: `redis://127.0.0.1:${port}` };
}

/** Stops it (SIGTERM: the file is complete) and keeps its directory. */
export async function stopDurableRedis(r: DurableRedis): Promise<void> {
  await stopRedis(r.child);
}

/** Starts it again on the same port and directory: what was acknowledged is there. */
export async function restartDurableRedis(r: DurableRedis): Promise<DurableRedis> {
  return { ...r, child: await launchRedis(r.port, r.dir) };
}

export async function removeDurableRedis(r: DurableRedis | undefined): Promise<void> {
  if (r === undefined) return;
  await stopRedis(r.child);
  rmSync(r.dir, { recursive: true, force: true });
}

// ── The fleet ────────────────────────────────────────────────────────────────────────

export interface Fleet {
  servers: ServerProcess[];
  /** Runs a CLI command against the same database, Redis and secret. */
  cli(args: string[], stdin?: string): ReturnType<typeof runCli>;
  secrets: Record<string, string>;
  users: string[];
}

export interface FleetOptions {
  instances: number;
  db: string;
  /** `--db-schema`: tests sharing one PostgreSQL keep apart by schema. */
  schema?: string;
  redis?: string;
  users: number;
}

/**
 * Users u0..u(n-1) (password PASSWORD), a first-party JWT client `app` (code + refresh),
 * a resource server `rs` (introspection, the feed) and a service `svc`, made by the CLI;
 * then `instances` servers, all with short store timeouts so a fault costs seconds.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const secret = randomBytes(32).toString("base64url");
  const data = tempDataDir();
  const common = ["--data", data, "--db", options.db, "--issuer", ISSUER];
  if (options.schema !== undefined) common.push("--db-schema", options.schema);
  if (options.redis !== undefined) common.push("--redis", options.redis);
  const env = { TESSERA_SECRET: secret };
  const cli = (args: string[], stdin?: string) =>
    runCli([...args, ...common], { env, ...(stdin === undefined ? {} : { stdin }) });
  const users: string[] = [];
  for (let i = 0; i < options.users; i++) {
    const name = `u${i}`;
    const init = i === 0 ? ["--init"] : [];
    const added = await cli(["user", "add", name, "--password-stdin", ...init], PASSWORD);
    if (added.code !== 0) throw new Error(`user add ${name}: ${added.stderr}`);
    users.push(name);
  }
  const secrets: Record<string, string> = {};
  const clients: Record<string, string[]> = {
    app: [
      "--grants",
      "authorization_code,refresh_token",
      "--audience",
      AUDIENCE,
      "--scopes",
      "read",
      "--redirect-uri",
      REDIRECT,
      "--first-party",
    ],
    rs: ["--grants", "client_credentials", "--audience", AUDIENCE, "--introspect"],
    svc: ["--grants", "client_credentials", "--audience", AUDIENCE, "--scopes", "read"],
  };
  for (const [id, args] of Object.entries(clients)) {
    const out = await cli(["client", "add", id, ...args]);
    if (out.code !== 0) throw new Error(`client add ${id}: ${out.stderr}`);
    secrets[id] = clientSecretOf(out.stdout);
  }
  const serveArgs = [
    ...common,
    "--db-connect-timeout-ms",
    "1000",
    "--db-statement-timeout-ms",
    "2000",
    "--events-heartbeat",
    "1",
    "--login-ip-limit",
    "1000000",
    "--login-account-limit",
    "10000",
  ];
  const servers: ServerProcess[] = [];
  for (let i = 0; i < options.instances; i++) servers.push(await startServer(serveArgs, env));
  return { servers, cli, secrets, users };
}

// ── A TCP round-robin "load balancer" ────────────────────────────────────────────────

export interface Balancer {
  url: string;
  /** Backend index of each open connection whose request is for the revocation feed. */
  feedBackends(): number[];
  close(): Promise<void>;
}

/**
 * Each new connection goes to the next backend port in turn; one that refuses is skipped
 * (as a load balancer's health check would), so a killed instance gets no new connection.
 * When either side closes, so does the other: a feed whose instance died ends.
 */
export async function roundRobinProxy(ports: readonly number[]): Promise<Balancer> {
  let next = 0;
  const open = new Map<Socket, { backend: number; feed: boolean }>();
  const server = createServer((client) => {
    client.once("data", (first: Buffer) => {
      client.pause();
      const feed = first.subarray(0, 64).toString("latin1").startsWith("GET /events/revocations");
      const tryBackend = (attempt: number) => {
        if (attempt >= ports.length) {
          client.destroy();
          return;
        }
        const index = next++ % ports.length;
        const upstream = connect(ports[index] as number, "127.0.0.1");
        let connected = false;
        upstream.once("error", () => {
          if (!connected) tryBackend(attempt + 1);
        });
        upstream.once("connect", () => {
          connected = true;
          open.set(client, { backend: index, feed });
          upstream.write(first);
          client.pipe(upstream);
          upstream.pipe(client);
          client.resume();
          const end = () => {
            open.delete(client);
            client.destroy();
            upstream.destroy();
          };
          upstream.once("close", end);
          client.once("close", end);
          upstream.on("error", end);
          client.on("error", end);
        });
      };
      tryBackend(0);
    });
    client.on("error", () => client.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    feedBackends: () => [...open.values()].filter((c) => c.feed).map((c) => c.backend),
    close: () =>
      new Promise((resolve) => {
        for (const c of open.keys()) c.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` until it returns true, at most `ms`; throws `what` otherwise. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  ms = 15_000,
): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
