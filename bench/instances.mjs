/**
 * `npm run bench` (a step of it), or alone: `npm run build && node bench/instances.mjs`.
 * Several instances: session checks (GET /session), token issuance (client_credentials,
 * a signed JWT) and introspection (an active opaque token) against real `tessera serve`
 * processes on 1 and 3 instances, on PostgreSQL alone and on PostgreSQL + Redis, and on
 * SQLite (1 instance) in the same run, printed as markdown tables on stdout (progress and
 * child output go to stderr). Never part of `npm test`.
 *
 * A PostgreSQL (initdb into a temp dir, loopback, default durability settings) and a
 * redis-server (no persistence) are started here; without PostgreSQL the run stops with
 * a note. With 3 instances the load generator spreads its connections evenly over them
 * (one autocannon per instance, at once), as a round-robin load balancer would.
 *
 * Knobs (environment): BENCH_DURATION, BENCH_WARMUP (seconds, as the other benchmarks),
 * BENCH_NO_REDIS=1, BENCH_ONLY (comma-separated setup ids: sqlite-1, pg-1, pg-3,
 * pgredis-1, pgredis-3).
 */
import { execFileSync, spawn } from "node:child_process";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  aggregate,
  DURATION_S,
  load,
  log,
  out,
  printFooter,
  printHeader,
  RESULT_COLUMNS,
  request,
  resultCells,
  runBench,
  startRedis,
  stopRedis,
  table,
  tempRoot,
  track,
  WARMUP_S,
} from "./lib.mjs";
import { startPostgres } from "./postgres.mjs";
import { saveResults, startResults } from "./results.mjs";
import { atLeast, TARGETS } from "./targets.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const CONNECTIONS = 32;
const HARD_LIMIT_MS = 8 * 60 * 1000;
const PASSWORD = "Bench-Harbour-Quartz-Meadow-41";
const AUDIENCE = "https://api.bench.test";
const SECRET = "bench-secret-shared-by-every-instance-0123456789";
const ISSUER = "https://auth.bench.test";

const SETUPS = [
  { id: "sqlite-1", label: "SQLite, 1 instance", store: "sqlite", n: 1 },
  { id: "pg-1", label: "PostgreSQL alone, 1 instance", store: "pg", n: 1 },
  { id: "pg-3", label: "PostgreSQL alone, 3 instances", store: "pg", n: 3 },
  { id: "pgredis-1", label: "PostgreSQL + Redis, 1 instance", store: "pgredis", n: 1 },
  { id: "pgredis-3", label: "PostgreSQL + Redis, 3 instances", store: "pgredis", n: 3 },
];

const SCENARIOS = [
  { id: "session", title: "GET /session with a valid cookie (session check)" },
  { id: "token", title: "POST /oauth/token, client_credentials, a signed JWT (token issuance)" },
  { id: "introspect", title: "POST /oauth/introspect, an active opaque token (introspection)" },
];

// ── An installation and its instances ───────────────────────────────────────────────────

function cli(args, env, input) {
  return execFileSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    input: input ?? "",
    stdio: ["pipe", "pipe", "pipe"],
  }).toString();
}

const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

function clientSecret(stdout) {
  const secret = /client_secret: (tsr_[\w-]{57})/.exec(stdout)?.[1];
  if (secret === undefined) throw new Error(`no client secret in: ${stdout}`);
  return secret;
}

/** `tessera serve --port 0 ...` as deployed; resolves to `{ port, child }` once it listens. */
function serve(args, env, label) {
  const child = track(
    spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stderr.on("data", (c) => process.stderr.write(`[${label}] ${c}`));
  return new Promise((resolve, reject) => {
    let text = "";
    let listening = false;
    const timer = setTimeout(() => reject(new Error(`${label} did not listen in 30 s`)), 30_000);
    // Read to the end (its request log lines included), kept only until it listens.
    child.stdout.on("data", (c) => {
      if (listening) return;
      text += c.toString("utf8");
      const m = /Tessera listening on http:\/\/[^:]+:(\d+)/.exec(text);
      if (m !== null) {
        listening = true;
        clearTimeout(timer);
        resolve({ port: Number(m[1]), child });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code})`));
    });
  });
}

async function stopInstance(instance) {
  const { child } = instance;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** A fresh installation for `setup`, its users and clients, and its `n` instances. */
async function startSetup(setup, root, pg, redis) {
  const dir = (name) => {
    const d = join(root, `${setup.id}-${name}`);
    execFileSync("mkdir", ["-p", d]);
    return d;
  };
  const env = { TESSERA_SECRET: SECRET, TESSERA_ISSUER: ISSUER };
  if (setup.store !== "sqlite") {
    env.TESSERA_DB = pg.url;
    env.TESSERA_DB_SCHEMA = `bench_${setup.id.replace(/\W/g, "_")}`;
  }
  if (setup.store === "pgredis") {
    env.TESSERA_REDIS = redis.url;
    env.TESSERA_REDIS_PREFIX = `bench-${setup.id}:`;
  }
  const cliData = dir("cli");
  const admin = (args, input) => cli([...args, "--data", cliData], env, input);
  admin(["user", "add", "bench", "--password-stdin", "--init"], PASSWORD);
  const common = ["--grants", "client_credentials", "--audience", AUDIENCE];
  const svc = clientSecret(admin(["client", "add", "svc", ...common]));
  const opq = clientSecret(admin(["client", "add", "opq", ...common, "--token-format", "opaque"]));
  const rs = clientSecret(admin(["client", "add", "rs", ...common, "--introspect"]));
  const instances = [];
  for (let i = 0; i < setup.n; i++) {
    // SQLite: the one instance on the CLI's data; otherwise a data directory each.
    const data = setup.store === "sqlite" ? cliData : dir(`i${i}`);
    instances.push(await serve(["--data", data], env, `${setup.id}#${i}`));
  }
  return {
    instances,
    auth: { svc: basic("svc", svc), opq: basic("opq", opq), rs: basic("rs", rs) },
  };
}

// ── Requests ────────────────────────────────────────────────────────────────────────────

const FORM = "application/x-www-form-urlencoded";

async function post(port, path, auth, body) {
  const res = await request(port, "POST", path, {
    headers: { authorization: auth, "content-type": FORM, "content-length": String(body.length) },
    body,
  });
  return { status: res.status, body: res.body === "" ? {} : JSON.parse(res.body) };
}

/** The autocannon options of `scenario`, and a check of one answer from each instance. */
async function prepare(scenario, { instances, auth }) {
  const first = instances[0].port;
  if (scenario === "session") {
    const body = JSON.stringify({ username: "bench", password: PASSWORD });
    const res = await request(first, "POST", "/login", {
      headers: { "content-type": "application/json", "content-length": String(body.length) },
      body,
    });
    const cookie = res.headers["set-cookie"]?.[0]?.split(";")[0];
    if (res.status !== 200 || cookie === undefined) throw new Error(`login: ${res.status}`);
    return {
      opts: { path: "/session", method: "GET", headers: { cookie } },
      check: async (port) =>
        (await request(port, "GET", "/session", { headers: { cookie } })).status === 200,
    };
  }
  if (scenario === "token") {
    const body = "grant_type=client_credentials";
    return {
      opts: {
        path: "/oauth/token",
        method: "POST",
        headers: { authorization: auth.svc, "content-type": FORM },
        body,
      },
      check: async (port) =>
        (await post(port, "/oauth/token", auth.svc, body)).body.access_token !== undefined,
    };
  }
  const issued = await post(first, "/oauth/token", auth.opq, "grant_type=client_credentials");
  const body = new URLSearchParams({ token: issued.body.access_token }).toString();
  return {
    opts: {
      path: "/oauth/introspect",
      method: "POST",
      headers: { authorization: auth.rs, "content-type": FORM },
      body,
    },
    check: async (port) =>
      (await post(port, "/oauth/introspect", auth.rs, body)).body.active === true,
  };
}

/** One run spread over the instances (connections split evenly), summed. */
async function spread(instances, opts, duration, samples) {
  const share = (i) =>
    Math.floor(CONNECTIONS / instances.length) + (i < CONNECTIONS % instances.length ? 1 : 0);
  const runs = await Promise.all(
    instances.map((inst, i) =>
      load(
        {
          url: `http://127.0.0.1:${inst.port}${opts.path}`,
          method: opts.method,
          headers: opts.headers,
          ...(opts.body === undefined ? {} : { body: opts.body }),
          connections: share(i),
          duration,
        },
        samples,
      ),
    ),
  );
  return runs;
}

async function measure(scenario, installation) {
  const { opts, check } = await prepare(scenario, installation);
  for (const inst of installation.instances) {
    if (!(await check(inst.port))) throw new Error(`${scenario}: a wrong answer before the run`);
  }
  await spread(installation.instances, opts, WARMUP_S);
  const samples = [];
  const runs = await spread(installation.instances, opts, DURATION_S, samples);
  for (const inst of installation.instances) {
    if (!(await check(inst.port))) throw new Error(`${scenario}: a wrong answer after the run`);
  }
  samples.sort((a, b) => a - b);
  const at = (p) =>
    samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)];
  return {
    rps: runs.reduce((a, r) => a + r.rps, 0),
    total: runs.reduce((a, r) => a + r.total, 0),
    bad: runs.reduce((a, r) => a + r.bad, 0),
    badDetail: runs
      .map((r) => r.badDetail)
      .filter((d) => d !== "")
      .join("; "),
    p50: at(50),
    p99: at(99),
    cpuUsPerReq: Number.NaN,
  };
}

/** One section per scenario for bench/report.mjs: each setup, 1 instance against SQLite. */
function instanceSections(setups, results, pgVersion) {
  const targetOf = { "pg-1": TARGETS.postgres, "pgredis-1": TARGETS.postgresRedis };
  return SCENARIOS.map((scenario) => {
    const at = (id) => {
      const r = results.get(`${id}/${scenario.id}`);
      return typeof r === "object" ? r : undefined;
    };
    const sqlite = at("sqlite-1");
    return {
      id: `instances-${scenario.id}`,
      title: `Several instances: ${scenario.title}`,
      metric: "req/s",
      rows: setups
        .filter((setup) => at(setup.id) !== undefined)
        .map((setup) => {
          const r = at(setup.id);
          const value = sqlite === undefined ? Number.NaN : r.rps / sqlite.rps;
          const target = targetOf[setup.id];
          return {
            label: `Tessera, ${setup.label}`,
            value: r.rps,
            tessera: true,
            p99Ms: r.p99,
            ...(setup.id === "sqlite-1" ? {} : { ratio: { value, vs: "SQLite, 1 instance" } }),
            ...(target === undefined ? {} : { target: target.text, met: atLeast(target, value) }),
          };
        }),
      notes:
        `Real \`tessera serve\` processes (default settings and log level), ${CONNECTIONS} connections split evenly over the instances; ` +
        `${pgVersion} and redis-server on the same 2 cores as the instances and the load generator, so 3 instances cannot beat 1 here.`,
    };
  });
}

// ── Main ────────────────────────────────────────────────────────────────────────────────

async function main() {
  const started = performance.now();
  const root = tempRoot("tessera-bench-instances-");
  const record = startResults("instances", ["fastify", "pg", "ioredis", "better-sqlite3"]);
  const load0 = printHeader({
    title: "Tessera benchmarks — several instances (PostgreSQL, Redis, SQLite)",
    npmCommand: "npm run bench` (this part: `node bench/instances.mjs`)",
    loadGenerator: `; the servers are real \`tessera serve\` processes; ${CONNECTIONS} connections in all, split evenly over the instances`,
    versions: ["fastify", "pg", "ioredis", "better-sqlite3"],
    measured: ` (after ${WARMUP_S} s warm-up), one round per setup and scenario`,
  });
  const pg = await startPostgres();
  if (pg.url === undefined) {
    out(`Skipped: ${pg.note}.`);
    return;
  }
  const redis = await startRedis(root);
  const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
  const setups = SETUPS.filter((s) => only === undefined || only.includes(s.id));
  const results = new Map(); // `${setup}/${scenario}` → aggregate, or an error string
  for (const setup of setups) {
    if (setup.store === "pgredis" && redis.url === undefined) continue;
    log(`${setup.label}…`);
    const installation = await startSetup(setup, root, pg, redis);
    try {
      for (const { id } of SCENARIOS) {
        log(`  ${id}`);
        try {
          results.set(`${setup.id}/${id}`, aggregate([await measure(id, installation)]));
        } catch (err) {
          results.set(`${setup.id}/${id}`, err instanceof Error ? err.message : String(err));
        }
      }
    } finally {
      await Promise.all(installation.instances.map(stopInstance));
    }
  }
  out(
    `- ${pg.version}, defaults (fsync and synchronous_commit on); redis-server without persistence; all on this machine`,
  );
  out();
  for (const scenario of SCENARIOS) {
    out(`## ${scenario.title}`);
    out();
    const rows = setups.map((setup) => {
      const r = results.get(`${setup.id}/${scenario.id}`);
      if (r === undefined)
        return [setup.label, `skipped: no Redis (${redis.note})`, "–", "–", "–", "–"];
      if (typeof r === "string")
        return [setup.label, `failed: ${r.split("\n")[0]}`, "–", "–", "–", "–"];
      return [setup.label, ...resultCells(r)];
    });
    out(table(["setup", ...RESULT_COLUMNS], rows));
    out();
  }
  out(
    `Notes — read these before the numbers: this machine has ${os.availableParallelism()} CPU cores, shared by ` +
      "the load generator, PostgreSQL, redis-server and every Tessera instance (and, while this was written, " +
      "by other people's work: see the load averages). Three instances on two cores cannot go faster than one: " +
      "they compete for the same cores, so the 3-instance rows measure what spreading requests over processes " +
      "that share one store costs (and that every instance answers every request correctly: each answer is " +
      "checked on every instance before and after its run), not how Tessera scales on three machines. " +
      "SQLite runs in-process (no network hop, no pool), which is why it leads on one machine; PostgreSQL and " +
      "Redis are what lets instances run on several machines at all. A session check reads the session and the " +
      "user (the last-seen time is written at most once a minute); token issuance signs an ES256 JWT and reads " +
      "the client; introspection reads the client and the opaque token's record.",
  );
  out();
  printFooter(load0, started);
  saveResults(record, instanceSections(setups, results, pg.version));
  await stopRedis(redis);
}

runBench(main, { hardLimitMs: HARD_LIMIT_MS });
