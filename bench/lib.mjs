/**
 * Parent-side helpers shared by the load benchmarks bench/run.mjs and bench/oauth.mjs:
 * knobs, bookkeeping and cleanup of everything they start, statistics and markdown output,
 * a redis-server on a free loopback port, the servers under test (child processes that
 * speak the IPC protocol of bench/child-lib.mjs), a keep-alive HTTP client and autocannon
 * runs. Importing this module starts nothing; `runBench` installs the cleanup handlers.
 */
import { fork, spawn } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { versionOf } from "./results.mjs";

// ── Knobs (environment) ─────────────────────────────────────────────────────────────────

/** A positive number from the environment, or `fallback`. */
export const num = (name, fallback) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};
/** Seconds per measured run. */
export const DURATION_S = num("BENCH_DURATION", 5);
/** Seconds of warm-up before a measured run. */
export const WARMUP_S = num("BENCH_WARMUP", 2);
/** Every server under test runs with `--cpu-prof` into this directory, if set. */
export const CPU_PROF_DIR = process.env.BENCH_CPU_PROF || undefined;

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

export function track(child) {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** A fresh directory under the system temp dir, removed at exit. */
export function tempRoot(prefix) {
  const root = mkdtempSync(join(os.tmpdir(), prefix));
  tempDirs.push(root);
  return root;
}

export function log(line) {
  process.stderr.write(`bench: ${line}\n`);
}

/**
 * Runs `main` with cleanup of every tracked child and temp dir on exit, SIGINT and SIGTERM,
 * and aborts the whole run (cleaned up) past `hardLimitMs`.
 */
export function runBench(main, { hardLimitMs }) {
  process.on("exit", cleanupSync);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      process.stderr.write(`bench: ${signal}, cleaning up\n`);
      cleanupSync();
      process.exit(130);
    });
  }
  const hardLimit = setTimeout(() => {
    process.stderr.write(`bench: still running after ${hardLimitMs / 1000} s; giving up\n`);
    cleanupSync();
    process.exit(3);
  }, hardLimitMs);
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
}

// ── Statistics and formatting ───────────────────────────────────────────────────────────

/** Nearest-rank percentile of an ascending array. */
function pct(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarise(values) {
  const sorted = Float64Array.from(values).sort();
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  return { n: sorted.length, p50: pct(sorted, 50), p99: pct(sorted, 99), mean };
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const ms = (v) => (Number.isNaN(v) ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1));
const int = (v) => Math.round(v).toLocaleString("en-US");
export const ratio = (v) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "–");
export const verdict = (ok) => (ok ? "**met**" : "**missed**");

export function table(header, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map(() => "---")), ...rows.map(line)].join("\n");
}

export function out(text = "") {
  process.stdout.write(`${text}\n`);
}

/**
 * Prints the title and the list that describes the run; returns the load average at start
 * (for `printFooter`). `npmCommand` is shown when run as `npm run bench` (it closes the
 * backquote opened before the knobs); `date` is what
 * precedes "date …" on its line, `loadGenerator` what follows "in the parent process",
 * `measured` what follows "measured runs N s".
 */
export function printHeader({ title, npmCommand, date = "", loadGenerator, versions, measured }) {
  const cpus = os.cpus();
  out(`# ${title}`);
  out();
  const knobs = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") || k === "UV_THREADPOOL_SIZE")
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  const command =
    process.env.npm_lifecycle_event === "bench"
      ? npmCommand
      : `node ${process.argv.slice(1).join(" ")}\``;
  out(`- command: \`${knobs}${command}`);
  out(
    `- Node ${process.version}, ${os.platform()} ${os.arch()}, ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? "?"})`,
  );
  out(`- ${date}date ${new Date().toISOString()}`);
  out(
    `- load generator: autocannon ${versionOf("autocannon")} in the parent process${loadGenerator}`,
  );
  out(`- versions: ${versions.map((n) => `${n} ${versionOf(n)}`).join(", ")}`);
  const load0 = os.loadavg();
  out(`- load average (1/5/15 min) at start: ${load0.map((v) => v.toFixed(2)).join(" / ")}`);
  out(`- measured runs ${DURATION_S} s${measured}`);
  out();
  return load0;
}

/**
 * Prints the load average at end (with a warning if the machine was busy), `extra` lines,
 * and the total time since `started` (a `performance.now()`).
 */
export function printFooter(load0, started, extra = []) {
  const load1 = os.loadavg();
  out(`Load average (1/5/15 min) at end: ${load1.map((v) => v.toFixed(2)).join(" / ")}.`);
  if (Math.max(load0[0], load1[0]) > 2.5) {
    out(
      "**Warning**: the load average shows other processes competing for the 2 cores during this run; " +
        "absolute numbers are depressed and ratios are noisier than usual. Re-run on a quiet machine to confirm.",
    );
  }
  for (const line of extra) out(line);
  out(`Total bench time: ${((performance.now() - started) / 1000).toFixed(0)} s.`);
}

// ── Results: medians over rounds, table cells ───────────────────────────────────────────

/** The median (req/s, latencies, server CPU) and sums (requests, failures) of a list of runs. */
export function aggregate(list) {
  return {
    rps: median(list.map((r) => r.rps)),
    rpsAll: list.map((r) => r.rps),
    p50: median(list.map((r) => r.p50)),
    p99: median(list.map((r) => r.p99)),
    cpu: median(list.map((r) => r.cpuUsPerReq)),
    total: list.reduce((a, r) => a + r.total, 0),
    bad: list.reduce((a, r) => a + r.bad, 0),
    badDetail: list
      .map((r) => r.badDetail)
      .filter((d) => d !== "")
      .join("; "),
  };
}

/** req/s of an aggregate: the median, followed by every round's when there are several. */
const rpsCell = (r) =>
  r.rpsAll.length > 1 ? `${int(r.rps)} (${r.rpsAll.map(int).join(", ")})` : int(r.rps);

/** The non-2xx/errors cell of a run or an aggregate. */
export const badCell = (r) => (r.bad === 0 ? 0 : `${r.bad} (${r.badDetail})`);

/** The columns of a server's results table after the server's name, before its CPU. */
export const RESULT_COLUMNS = ["req/s", "p50 ms", "p99 ms", "requests", "non-2xx/errors"];

/** The RESULT_COLUMNS cells of an aggregate. */
export const resultCells = (r) => [rpsCell(r), ms(r.p50), ms(r.p99), int(r.total), badCell(r)];

export const RATIO_HEADER = [
  "ratio",
  "req/s ratio",
  "target",
  "verdict (req/s)",
  "inverse server-CPU-per-request ratio",
];

/** A row under RATIO_HEADER: aggregate `x` against aggregate `y` (either may be missing). */
export function ratioRow(name, x, y, target) {
  const both = x !== undefined && y !== undefined;
  const value = both ? x.rps / y.rps : Number.NaN;
  const cpu = both ? y.cpu / x.cpu : Number.NaN;
  return [
    name,
    ratio(value),
    target === undefined ? "–" : `≥ ${target}×`,
    target === undefined || Number.isNaN(value) ? "–" : verdict(value >= target),
    ratio(cpu),
  ];
}

// ── Redis ───────────────────────────────────────────────────────────────────────────────

export function freePort() {
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

async function startRedisServer(dir) {
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

/**
 * A redis-server without persistence in `root`/redis, unless BENCH_NO_REDIS=1: `{ url,
 * child }`, or `{ note }` saying why there is none (the Redis rows are then skipped).
 */
export async function startRedis(root) {
  if (process.env.BENCH_NO_REDIS === "1") return { note: "BENCH_NO_REDIS=1" };
  const dir = join(root, "redis");
  mkdirSync(dir);
  const r = await startRedisServer(dir);
  if (r.child) {
    log(`redis-server on ${r.url}`);
    return { url: r.url, child: r.child };
  }
  log(`no Redis (${r.failure}): Redis rows skipped`);
  return { note: r.failure };
}

export async function stopRedis(redis) {
  if (redis.child) await stopChild(redis.child, () => redis.child.kill("SIGTERM"));
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

let logs;
/** The directory of the servers' stdout files (removed at exit). */
export function logDir() {
  logs ??= tempRoot("tessera-bench-logs-");
  return logs;
}

/**
 * Forks `script KIND OPTIONS` (a server built on bench/child-lib.mjs) and waits for its
 * `ready` message. `label` names it in stderr, errors and the CPU profile's file name;
 * `env` is added to this process's environment. The handle holds the ready message's
 * fields plus `eldStart`/`eldStop`, `cpuStart`/`cpuStop` and `close`.
 */
export async function startServer(script, kind, options, { label = kind, env = {} } = {}) {
  const execArgv = [];
  if (CPU_PROF_DIR) {
    const name = `${label.replace(/[^\w-]+/g, "_")}.${Date.now()}.cpuprofile`;
    execArgv.push("--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${name}`);
  }
  // stdout (Tessera's request log, at its default level) goes to a file, as a deployment's
  // would go to its collector: not through this process, the load generator.
  const logFd = openSync(
    join(logDir(), `${label.replace(/[^\w-]+/g, "_")}.${Date.now()}.log`),
    "a",
  );
  const child = track(
    fork(script, [kind, JSON.stringify(options)], {
      stdio: ["ignore", logFd, "pipe", "ipc"],
      execArgv,
      env: { ...process.env, ...env },
    }),
  );
  closeSync(logFd);
  child.stderr.on("data", (chunk) => process.stderr.write(`[${label}] ${chunk}`));
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
    eldStart: () => ask("eld-start", "eld-started"),
    eldStop: () => ask("eld-stop", "eld"),
    cpuStart: () => ask("cpu-start", "cpu-started"),
    cpuStop: () => ask("cpu-stop", "cpu"),
    close: () => stopChild(child, () => child.connected && child.send({ cmd: "close" })),
  };
}

// ── HTTP client and load generator ──────────────────────────────────────────────────────

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One request on a keep-alive connection to 127.0.0.1 (destroyed by `runBench`). */
export function request(port, method, path, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * One autocannon run from this process. Latencies are taken from autocannon's per-response
 * timings (sub-millisecond resolution; its own histogram keeps whole milliseconds).
 */
export async function load(opts, samples) {
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
    ok: result["2xx"],
    bad: result.non2xx + result.errors + result.timeouts,
    p50: s?.p50 ?? result.latency.p50,
    p99: s?.p99 ?? result.latency.p99,
  };
}

/**
 * Warm-up (WARMUP_S) with the autocannon options `base`, then the measured run (DURATION_S)
 * with the server's CPU time (user + system, and system alone) per request answered.
 */
export async function measureLoad(server, base) {
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
