/**
 * `npm run bench` (last step), or alone: `npm run build && node bench/oauth.mjs`. The OAuth
 * endpoint benchmarks, printed as markdown tables on stdout (progress and child output go
 * to stderr). Never part of `npm test`. See ../shared/PERFORMANCE.md for the targets.
 *
 * 1. POST token endpoint, grant_type=client_credentials, client_secret_basic,
 *    autocannon -c 32: Tessera (SQLite store; JWT access tokens signed with EdDSA, and
 *    opaque ones for information) against oidc-provider 9 (in-memory adapter; its default
 *    token, opaque, and an EdDSA JWT through a resource indicator, like for like).
 * 2. POST introspection endpoint with an active opaque token and with an inactive (random)
 *    one, autocannon -c 32: Tessera (SQLite), Tessera `--redis`, oidc-provider.
 * Both also run against a floor, for information: bare fastify + @fastify/formbody
 * answering a fixed JSON body (what HTTP, the framework and the kernel's loopback cost).
 *
 * Each server runs in its own child process (bench/oauth-server.mjs), one at a time; the
 * load generator (autocannon) runs here, in the parent. Only loopback traffic. A
 * redis-server is started on a free loopback port without persistence if one is
 * installed; otherwise the Redis rows are skipped with a note.
 *
 * Knobs (environment): BENCH_DURATION (seconds per measured run, default 5),
 * BENCH_WARMUP (seconds before each measured run, default 2), BENCH_ROUNDS (runs per
 * server and scenario, servers interleaved, default 1; the median is reported),
 * BENCH_ONLY (comma-separated server ids — floor, tessera-sqlite, tessera-redis, oidc — or
 * `id/scenario`, e.g. `tessera-sqlite/token-jwt`, to profile one path),
 * BENCH_NO_REDIS=1, BENCH_CPU_PROF=DIR (every server runs with --cpu-prof into DIR;
 * summarise with `node bench/cpuprofile-top.mjs DIR/*.cpuprofile`).
 */
import { fork, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

const require = createRequire(import.meta.url);
const versionOf = (name) => {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    // Packages whose "exports" hide package.json: read it from node_modules.
    try {
      const path = fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url));
      return JSON.parse(readFileSync(path, "utf8")).version;
    } catch {
      return "?";
    }
  }
};

const SERVER_SCRIPT = fileURLToPath(new URL("./oauth-server.mjs", import.meta.url));

const num = (name, fallback) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
const DURATION_S = num("BENCH_DURATION", 5);
const WARMUP_S = num("BENCH_WARMUP", 2);
const ROUNDS = Math.floor(num("BENCH_ROUNDS", 1));
const CONNECTIONS = 32;
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF || undefined;
/** Measured scenarios per round (2 floor, 4 Tessera SQLite, 2 Tessera Redis, 4 oidc-provider). */
const SCENARIOS_PER_ROUND = 12;
/** The whole run is aborted (and cleaned up) past this. */
const HARD_LIMIT_MS = (60 + ROUNDS * SCENARIOS_PER_ROUND * (DURATION_S + WARMUP_S + 3)) * 1000;
/** Tessera's `--introspection-inactive-limit` in this benchmark (the setting's maximum). */
const INACTIVE_LIMIT = 1_000_000;

const FORM = "application/x-www-form-urlencoded";

// ── Bookkeeping: everything started here is stopped here ───────────────────────────────

const children = new Set();
const tempDirs = [];

function cleanupSync() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
process.on("exit", cleanupSync);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    process.stderr.write(`bench: ${signal}, cleaning up\n`);
    cleanupSync();
    process.exit(130);
  });
}
const hardLimit = setTimeout(() => {
  process.stderr.write(`bench: still running after ${HARD_LIMIT_MS / 1000} s; giving up\n`);
  cleanupSync();
  process.exit(3);
}, HARD_LIMIT_MS);

function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function log(line) {
  process.stderr.write(`bench: ${line}\n`);
}

// ── Statistics and formatting ───────────────────────────────────────────────────────────

/** Nearest-rank percentile of an ascending array. */
function pct(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

function summarise(values) {
  const sorted = Float64Array.from(values).sort();
  return { n: sorted.length, p50: pct(sorted, 50), p99: pct(sorted, 99) };
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ms = (v) => (Number.isNaN(v) ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1));
const int = (v) => Math.round(v).toLocaleString("en-US");
const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
const verdict = (ok) => (ok ? "**met**" : "**missed**");

function table(header, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

function out(text = "") {
  process.stdout.write(`${text}\n`);
}

// ── Redis (as bench/run.mjs) ────────────────────────────────────────────────────────────

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function startRedisOnce(command, port, dir) {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  args.push("--daemonize", "no", "--dir", dir);
  return new Promise((resolve) => {
    let output = "";
    let settled = false;
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    track(child);
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const onData = (chunk) => {
      output = (output + chunk.toString("utf8")).slice(-4000);
      if (output.includes("Ready to accept connections")) {
        finish({ child, url: `redis://127.0.0.1:${port}` });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.once("error", (err) => {
      finish({ failure: `${command}: ${err.message}`, notFound: err.code === "ENOENT" });
    });
    child.once("exit", (code, signal) => {
      finish({ failure: `redis-server exited (${signal ?? code}): ${output.trim()}` });
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({ failure: "redis-server did not start within 10 s" });
    }, 10_000);
  });
}

async function startRedis(dir) {
  const commands = [process.env.REDIS_SERVER, "redis-server", "/usr/bin/redis-server"].filter(
    (c) => c !== undefined && c !== "",
  );
  let failure = "redis-server not found";
  for (const command of commands) {
    for (let attempt = 0; attempt < 3; attempt++) {
      const started = await startRedisOnce(command, await freePort(), dir);
      if (started.child) return started;
      failure = started.failure;
      if (started.notFound) break;
    }
  }
  return { failure };
}

async function stopChild(child, graceful) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  graceful();
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

// ── Servers under test (child processes) ────────────────────────────────────────────────

async function startServer(kind, label, options) {
  const execArgv = [];
  if (CPU_PROF_DIR) {
    const name = `${label.replace(/[^\w-]+/g, "_")}.${Date.now()}.cpuprofile`;
    execArgv.push("--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${name}`);
  }
  const child = track(
    fork(SERVER_SCRIPT, [kind, JSON.stringify(options)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      execArgv,
    }),
  );
  const forward = (chunk) => process.stderr.write(`[${label}] ${chunk}`);
  child.stdout.on("data", forward);
  child.stderr.on("data", forward);
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start within 30 s`)), 30_000);
    child.on("message", function onMessage(message) {
      if (message.type === "ready" || message.type === "error") {
        clearTimeout(timer);
        child.off("message", onMessage);
        if (message.type === "ready") resolve(message);
        else reject(new Error(`${label} failed to start: ${message.message}`));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited during start (code ${code})`));
    });
  });
  const ask = (cmd, answer) =>
    new Promise((resolve) => {
      child.on("message", function onMessage(message) {
        if (message.type === answer) {
          child.off("message", onMessage);
          resolve(message);
        }
      });
      child.send({ cmd });
    });
  return {
    ...ready,
    child,
    cpuStart: () => ask("cpu-start", "cpu-started"),
    cpuStop: () => ask("cpu-stop", "cpu"),
    close: () => stopChild(child, () => child.connected && child.send({ cmd: "close" })),
  };
}

// ── HTTP client bits ────────────────────────────────────────────────────────────────────

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(port, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** RFC 6749 §2.3.1 client_secret_basic (ids and secrets here need no form-encoding). */
const basic = (client) =>
  `Basic ${Buffer.from(`${client.id}:${client.secret}`, "utf8").toString("base64")}`;

/**
 * One autocannon run from this process. Latencies are taken from autocannon's per-response
 * timings (sub-millisecond resolution; its own histogram keeps whole milliseconds).
 */
async function load(opts, samples) {
  const instance = autocannon({ pipelining: 1, ...opts });
  if (samples) {
    instance.on("response", (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) samples.push(responseTime);
    });
  }
  const result = await instance;
  const s = samples ? summarise(samples) : undefined;
  const codes = Object.entries(result.statusCodeStats ?? {})
    .filter(([code]) => !code.startsWith("2"))
    .map(([code, { count }]) => `${code}×${count}`);
  if (result.errors > 0) codes.push(`errors×${result.errors}`);
  if (result.timeouts > 0) codes.push(`timeouts×${result.timeouts}`);
  return {
    badDetail: codes.join(" "),
    rps: result.requests.total / result.duration,
    total: result.requests.total,
    bad: result.non2xx + result.errors + result.timeouts,
    p50: s?.p50 ?? result.latency.p50,
    p99: s?.p99 ?? result.latency.p99,
  };
}

/** Checks one request by hand, then warm-up, then the measured run with server CPU. */
async function measure(server, path, headers, body, check) {
  const first = await request(server.port, "POST", path, {
    headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
    body,
  });
  check(first);
  // autocannon adds its own content-length; a second one would be a 400.
  const base = {
    url: `http://127.0.0.1:${server.port}${path}`,
    method: "POST",
    headers,
    body,
    connections: CONNECTIONS,
  };
  await load({ ...base, duration: WARMUP_S });
  await server.cpuStart();
  const result = await load({ ...base, duration: DURATION_S }, []);
  const cpu = await server.cpuStop();
  return {
    ...result,
    cpuUsPerReq: (cpu.user + cpu.system) / result.total,
    sysUsPerReq: cpu.system / result.total,
  };
}

function expectJson(what, predicate) {
  return (res) => {
    let json;
    try {
      json = JSON.parse(res.body);
    } catch {
      json = undefined;
    }
    if (res.status !== 200 || json === undefined || !predicate(json)) {
      throw new Error(`${what} answered ${res.status}: ${res.body.slice(0, 300)}`);
    }
  };
}

const isJwt = (t) => typeof t === "string" && t.split(".").length === 3;
const isOpaque = (t) => typeof t === "string" && !t.includes(".");

async function issue(server, client) {
  const body = "grant_type=client_credentials&scope=read";
  const res = await request(server.port, "POST", server.paths.token, {
    headers: { authorization: basic(client), "content-type": FORM },
    body,
  });
  expectJson("token endpoint", (j) => typeof j.access_token === "string")(res);
  return JSON.parse(res.body).access_token;
}

// ── Scenarios ───────────────────────────────────────────────────────────────────────────

/** Token endpoint: client_credentials for `client` ("jwt" | "opaque"). */
function tokenScenario(format) {
  return async (server) => {
    const headers = { authorization: basic(server.clients[format]), "content-type": FORM };
    const body = "grant_type=client_credentials&scope=read";
    const shape = format === "jwt" ? isJwt : isOpaque;
    return measure(
      server,
      server.paths.token,
      headers,
      body,
      expectJson(`token endpoint (${format})`, (j) => shape(j.access_token)),
    );
  };
}

/** Introspection by `rs` of an active opaque token of `svc`, or of a random string. */
function introspectScenario(active) {
  return async (server) => {
    const token = active
      ? await issue(server, server.clients.opaque)
      : randomBytes(32).toString("base64url");
    const headers = { authorization: basic(server.clients.introspector), "content-type": FORM };
    return measure(
      server,
      server.paths.introspect,
      headers,
      `token=${token}`,
      expectJson(`introspection (${active ? "active" : "inactive"})`, (j) =>
        active ? j.active === true && j.client_id === "svc" : j.active === false,
      ),
    );
  };
}

const SERVERS = [
  {
    id: "floor",
    kind: "fastify",
    label: "bare fastify + @fastify/formbody",
    redis: false,
    scenarios: {
      "token-opaque": tokenScenario("opaque"),
      "introspect-active": introspectScenario(true),
    },
  },
  {
    id: "tessera-sqlite",
    kind: "tessera",
    label: "**Tessera**, SQLite store",
    redis: false,
    scenarios: {
      "token-jwt": tokenScenario("jwt"),
      "token-opaque": tokenScenario("opaque"),
      "introspect-active": introspectScenario(true),
      "introspect-inactive": introspectScenario(false),
    },
  },
  {
    id: "tessera-redis",
    kind: "tessera",
    label: "**Tessera**, `--redis`",
    redis: true,
    scenarios: {
      "introspect-active": introspectScenario(true),
      "introspect-inactive": introspectScenario(false),
    },
  },
  {
    id: "oidc",
    kind: "oidc-provider",
    label: "oidc-provider",
    redis: false,
    scenarios: {
      "token-opaque": tokenScenario("opaque"),
      "token-jwt": tokenScenario("jwt"),
      "introspect-active": introspectScenario(true),
      "introspect-inactive": introspectScenario(false),
    },
  },
];

// ── Main ────────────────────────────────────────────────────────────────────────────────

async function main() {
  const started = performance.now();
  const root = mkdtempSync(join(os.tmpdir(), "tessera-bench-oauth-"));
  tempDirs.push(root);
  if (CPU_PROF_DIR) mkdirSync(CPU_PROF_DIR, { recursive: true });
  const cpus = os.cpus();
  out("# Tessera benchmarks — OAuth token endpoint and introspection");
  out();
  const knobs = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") || k === "UV_THREADPOOL_SIZE")
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  const command =
    process.env.npm_lifecycle_event === "bench"
      ? "npm run bench` (last step: `node bench/oauth.mjs`)"
      : `node ${process.argv.slice(1).join(" ")}\``;
  out(`- command: \`${knobs}${command}`);
  out(
    `- Node ${process.version}, ${os.platform()} ${os.arch()}, ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? "?"})`,
  );
  out(`- date ${new Date().toISOString()}`);
  out(
    `- load generator: autocannon ${versionOf("autocannon")} in the parent process, -c ${CONNECTIONS}, no pipelining; every server under test in its own child process, one at a time`,
  );
  out(
    `- versions: ${["oidc-provider", "koa", "jose", "fastify", "@fastify/formbody", "better-sqlite3", "ioredis"].map((n) => `${n} ${versionOf(n)}`).join(", ")}`,
  );
  const load0 = os.loadavg();
  out(`- load average (1/5/15 min) at start: ${load0.map((v) => v.toFixed(2)).join(" / ")}`);
  out(
    `- measured runs ${DURATION_S} s, each after ${WARMUP_S} s of warm-up with the same request; ${ROUNDS} round(s) per server and scenario (median reported)`,
  );
  out();

  let redisUrl;
  let redisNote;
  let redisChild;
  if (process.env.BENCH_NO_REDIS === "1") {
    redisNote = "BENCH_NO_REDIS=1";
  } else {
    const redisDir = join(root, "redis");
    mkdirSync(redisDir);
    const r = await startRedis(redisDir);
    if (r.child) {
      redisUrl = r.url;
      redisChild = r.child;
      log(`redis-server on ${redisUrl}`);
    } else {
      redisNote = r.failure;
      log(`no Redis (${r.failure}): Redis rows skipped`);
    }
  }

  const only = process.env.BENCH_ONLY?.split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  const selected = (id, name) =>
    only === undefined || only.includes(id) || only.includes(`${id}/${name}`);
  /** server id → scenario → list of runs */
  const runs = new Map(SERVERS.map((s) => [s.id, new Map()]));
  const failures = new Map();
  const info = new Map();
  for (let round = 0; round < ROUNDS; round++) {
    for (const spec of SERVERS) {
      if (spec.redis && redisUrl === undefined) continue;
      if (failures.has(spec.id)) continue;
      const names = Object.keys(spec.scenarios).filter((name) => selected(spec.id, name));
      if (names.length === 0) continue;
      const options = { dataDir: join(root, `${spec.id}-${round}`) };
      if (spec.redis) options.redisUrl = redisUrl;
      let server;
      try {
        server = await startServer(spec.kind, spec.id, options);
        info.set(spec.id, server.info);
        for (const name of names) {
          const scenario = spec.scenarios[name];
          log(`${spec.id}: ${name} (round ${round + 1}/${ROUNDS})…`);
          const list = runs.get(spec.id).get(name) ?? [];
          list.push(await scenario(server));
          runs.get(spec.id).set(name, list);
        }
      } catch (err) {
        failures.set(spec.id, err instanceof Error ? err.message : String(err));
        log(`${spec.id} failed: ${failures.get(spec.id)}`);
      } finally {
        await server?.close();
      }
    }
  }
  if (redisChild) await stopChild(redisChild, () => redisChild.kill("SIGTERM"));

  const get = (id, name) => {
    const list = runs.get(id)?.get(name);
    if (list === undefined || list.length === 0) return undefined;
    return {
      rps: median(list.map((r) => r.rps)),
      rpsAll: list.map((r) => r.rps),
      p50: median(list.map((r) => r.p50)),
      p99: median(list.map((r) => r.p99)),
      cpu: median(list.map((r) => r.cpuUsPerReq)),
      sys: median(list.map((r) => r.sysUsPerReq)),
      total: list.reduce((a, r) => a + r.total, 0),
      bad: list.reduce((a, r) => a + r.bad, 0),
      badDetail: list
        .map((r) => r.badDetail)
        .filter((d) => d !== "")
        .join("; "),
    };
  };
  const why = (id) => {
    const spec = SERVERS.find((s) => s.id === id);
    const reason =
      failures.get(id) ?? (spec?.redis ? `skipped: no Redis (${redisNote})` : "skipped");
    return reason.split("\n")[0];
  };
  const row = (label, id, name, floorName, extra = []) => {
    const r = get(id, name);
    if (r === undefined) {
      const reason =
        only !== undefined && !selected(id, name) ? "not selected (BENCH_ONLY)" : why(id);
      return [label, reason, "–", "–", "–", "–", "–", "–", ...extra.map(() => "–")];
    }
    const floor = get("floor", floorName);
    const rps =
      r.rpsAll.length > 1 ? `${int(r.rps)} (${r.rpsAll.map(int).join(", ")})` : int(r.rps);
    return [
      label,
      rps,
      ms(r.p50),
      ms(r.p99),
      int(r.total),
      r.bad === 0 ? 0 : `${r.bad} (${r.badDetail})`,
      `${r.cpu.toFixed(0)} (${(r.cpu - r.sys).toFixed(0)} + ${r.sys.toFixed(0)})`,
      floor === undefined ? "–" : ratio(r.rps / floor.rps),
      ...extra.map((f) => f(r)),
    ];
  };
  const ratioRow = (name, a, b, target) => {
    const x = get(...a);
    const y = get(...b);
    const value = x !== undefined && y !== undefined ? x.rps / y.rps : Number.NaN;
    const cpu = x !== undefined && y !== undefined ? y.cpu / x.cpu : Number.NaN;
    return [
      name,
      ratio(value),
      target === undefined ? "–" : `≥ ${target}×`,
      target === undefined || Number.isNaN(value) ? "–" : verdict(value >= target),
      ratio(cpu),
    ];
  };
  const RATIO_HEADER = [
    "ratio",
    "req/s ratio",
    "target",
    "verdict (req/s)",
    "inverse server-CPU-per-request ratio",
  ];
  const HEADER = [
    "server",
    "req/s",
    "p50 ms",
    "p99 ms",
    "requests",
    "non-2xx/errors",
    "server CPU µs/req (user + sys)",
    "req/s vs floor",
  ];

  // 1. Token endpoint
  out(
    `## 1. Token endpoint: POST, grant_type=client_credentials, client_secret_basic (autocannon -c ${CONNECTIONS}, ${DURATION_S} s)`,
  );
  out();
  out(
    table(HEADER, [
      row(
        "bare fastify + @fastify/formbody, fixed JSON, no auth, no token (floor, info)",
        "floor",
        "token-opaque",
        "token-opaque",
      ),
      row(
        "**Tessera**, SQLite store — JWT access token (EdDSA, Tessera's default)",
        "tessera-sqlite",
        "token-jwt",
        "token-opaque",
      ),
      row(
        "Tessera, SQLite store — opaque access token (info)",
        "tessera-sqlite",
        "token-opaque",
        "token-opaque",
      ),
      row(
        "oidc-provider, in-memory — its default for client_credentials: opaque token",
        "oidc",
        "token-opaque",
        "token-opaque",
      ),
      row(
        "oidc-provider, in-memory — JWT access token (EdDSA) via a resource indicator",
        "oidc",
        "token-jwt",
        "token-opaque",
      ),
    ]),
  );
  out();
  out(
    table(RATIO_HEADER, [
      ratioRow(
        "Tessera JWT / oidc-provider default (opaque) — the PERFORMANCE.md target",
        ["tessera-sqlite", "token-jwt"],
        ["oidc", "token-opaque"],
        3,
      ),
      ratioRow(
        "Tessera JWT / oidc-provider JWT (EdDSA) — like for like",
        ["tessera-sqlite", "token-jwt"],
        ["oidc", "token-jwt"],
        3,
      ),
      ratioRow(
        "Tessera opaque / oidc-provider opaque (info)",
        ["tessera-sqlite", "token-opaque"],
        ["oidc", "token-opaque"],
        undefined,
      ),
    ]),
  );
  out();
  out(
    "Notes, per request. **Tessera** (fastify 5 + @fastify/formbody): form parse, client_secret_basic decode, " +
      "client read from SQLite (better-sqlite3, synchronous), SHA-256 of the presented secret compared in constant " +
      "time, scope check, then a JWT (`typ: at+jwt`, RFC 9068 claims, 16-byte random jti) signed with Ed25519 " +
      "(`crypto.sign`) — nothing is written; for an opaque token instead a 256-bit random token whose SHA-256 is " +
      "inserted into SQLite with its grant data and TTL. **oidc-provider** (Koa): body parse, client authentication " +
      "(client_secret_basic, clients from its configuration cache), scope and resource-indicator resolution, then by " +
      "default (no resource indicator) an **opaque** `ClientCredentials` token (nanoid) saved in its in-memory " +
      "adapter (an LRU of 1,000 entries: cheaper than any real store); with a resource indicator whose resource " +
      'server asks for `accessTokenFormat: "jwt"`, a JWT signed with EdDSA through jose (nothing stored). ' +
      "Both servers issue 15-minute tokens with scope `read`; the request body is `grant_type=client_credentials&scope=read`. " +
      "Server CPU µs/req: user+system CPU of the server process during the measured run (`process.cpuUsage`) divided by the " +
      "requests answered (system time is mostly the kernel's loopback TCP, charged to the sending side). The floor parses " +
      "the same form body and answers a fixed JSON body of the same size as Tessera's, with no client authentication and " +
      "no token: what HTTP, fastify and the kernel cost per request here, bounded by the same load generator; " +
      '"req/s vs floor" is each row\'s share of it. With autocannon on one core and the server on the other, a server ' +
      "cannot exceed the floor, so a 3× ratio needs the peer below a third of it. " +
      'oidc-provider 9 prints "Unsupported runtime" on Node 20 (it wants 22+) but runs.',
  );
  out();

  // 2. Introspection
  const p99Check = (r) => `${verdict(r.p99 < 10)} (${ms(r.p99)} ms)`;
  out(
    `## 2. Introspection: POST, an opaque token, client_secret_basic (autocannon -c ${CONNECTIONS}, ${DURATION_S} s)`,
  );
  out();
  out(
    table(
      [...HEADER, "p99 < 10 ms"],
      [
        [
          "bare fastify + @fastify/formbody, fixed JSON (floor, info)",
          "floor",
          "introspect-active",
          "info",
        ],
        [
          "**Tessera**, SQLite store — active token",
          "tessera-sqlite",
          "introspect-active",
          "target",
        ],
        [
          "**Tessera**, SQLite store — inactive (random) token¹",
          "tessera-sqlite",
          "introspect-inactive",
          "target",
        ],
        ["**Tessera**, `--redis` — active token", "tessera-redis", "introspect-active", "target"],
        [
          "**Tessera**, `--redis` — inactive (random) token¹",
          "tessera-redis",
          "introspect-inactive",
          "target",
        ],
        ["oidc-provider, in-memory — active token", "oidc", "introspect-active", "peer"],
        [
          "oidc-provider, in-memory — inactive (random) token",
          "oidc",
          "introspect-inactive",
          "peer",
        ],
      ].map(([label, id, name, kind]) =>
        row(label, id, name, "introspect-active", [
          kind === "target" ? p99Check : (r) => `${ms(r.p99)} ms (${kind})`,
        ]),
      ),
    ),
  );
  out();
  out(
    `¹ Tessera runs with \`--introspection-inactive-limit ${INACTIVE_LIMIT}\` (the setting's maximum; the default is 60 ` +
      "per client per minute, past which a fishing client gets 429), so the throttle never answers 429 here; it still " +
      "reads and increments its counter on every inactive answer, as it would in production.",
  );
  out();
  out(
    table(RATIO_HEADER, [
      ratioRow(
        "Tessera (SQLite) / oidc-provider — active",
        ["tessera-sqlite", "introspect-active"],
        ["oidc", "introspect-active"],
        3,
      ),
      ratioRow(
        "Tessera (SQLite) / oidc-provider — inactive",
        ["tessera-sqlite", "introspect-inactive"],
        ["oidc", "introspect-inactive"],
        3,
      ),
      ratioRow(
        "Tessera `--redis` / oidc-provider — active",
        ["tessera-redis", "introspect-active"],
        ["oidc", "introspect-active"],
        3,
      ),
      ratioRow(
        "Tessera `--redis` / oidc-provider — inactive",
        ["tessera-redis", "introspect-inactive"],
        ["oidc", "introspect-inactive"],
        3,
      ),
    ]),
  );
  out();
  out(
    "Notes, per request. The introspecting client `rs` asks about an opaque access token of the client `svc` " +
      "(issued through the token endpoint just before the run), or about one random 43-character base64url string " +
      "(the shape of a real token, so neither server can reject it by its form). **Tessera**: form parse, client " +
      "authentication (SQLite read + SHA-256), the `introspect` permission, a read of the fishing counter, then " +
      "SHA-256 of the token and a lookup of the opaque-token record (SQLite, or Redis GET with `--redis`); if " +
      "there is none, a lookup as a refresh token (SQLite) and a JWT parse attempt, then an increment of the " +
      "fishing counter (a SQLite write, or Redis commands with `--redis`). With `--redis`, clients and refresh " +
      "tokens stay in SQLite; the Redis CPU is not in the server CPU column. **oidc-provider**: body parse, client " +
      "authentication, a structured-token (JWT) check, a lookup in its in-memory LRU (for an unknown token, " +
      "one per token kind), the default `allowedPolicy` (any confidential client may introspect), then the RFC 7662 " +
      "response. oidc-provider cannot introspect its JWT access tokens (it refuses structured tokens), hence opaque " +
      "tokens for both servers here.",
  );
  out();
  const load1 = os.loadavg();
  out(`Load average (1/5/15 min) at end: ${load1.map((v) => v.toFixed(2)).join(" / ")}.`);
  if (Math.max(load0[0], load1[0]) > 2.5) {
    out(
      "**Warning**: the load average shows other processes competing for the 2 cores during this run; " +
        "absolute numbers are depressed and ratios are noisier than usual. Re-run on a quiet machine to confirm.",
    );
  }
  if (CPU_PROF_DIR) {
    out(
      `CPU profiles of the servers are in \`${CPU_PROF_DIR}\` (\`node bench/cpuprofile-top.mjs ${CPU_PROF_DIR}/*.cpuprofile\`).`,
    );
  }
  out(`Total bench time: ${((performance.now() - started) / 1000).toFixed(0)} s.`);
}

main()
  .then(() => {
    clearTimeout(hardLimit);
    agent.destroy();
    cleanupSync();
  })
  .catch((err) => {
    process.stderr.write(
      `bench failed: ${err instanceof Error ? (err.stack ?? err.message) : err}\n`,
    );
    cleanupSync();
    process.exitCode = 1;
  });
