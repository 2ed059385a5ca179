/**
 * `npm run bench` (a step of it), or alone: `npm run build && node bench/workers.mjs`.
 * `tessera serve` with 1 worker (the plain process) against `--workers 2`, on SQLite:
 * session checks (GET /session) and token issuance (client_credentials, a signed JWT),
 * printed as a markdown table on stdout (progress goes to stderr). Never part of
 * `npm test`.
 *
 * The load generator is `wrk` (one thread, C): autocannon would take a core of the two
 * this machine has for itself. Without `wrk` on the PATH (Debian: `apt install wrk`) the
 * run prints a note and skips the table.
 *
 * Knobs (environment): BENCH_DURATION, BENCH_WARMUP (seconds, as the other benchmarks).
 */
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  DURATION_S,
  log,
  out,
  printFooter,
  request,
  runBench,
  table,
  tempRoot,
  track,
  WARMUP_S,
} from "./lib.mjs";
import { saveResults, startResults } from "./results.mjs";
import { atLeast, TARGETS } from "./targets.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const CONNECTIONS = 32;
const HARD_LIMIT_MS = 5 * 60 * 1000;
const PASSWORD = "Bench-Harbour-Quartz-Meadow-41";
const AUDIENCE = "https://api.bench.test";

const SETUPS = [
  { id: "w1", label: "1 worker (plain `serve`)", args: [] },
  { id: "w2", label: "2 workers (`--workers 2`)", args: ["--workers", "2"] },
];

const SCENARIOS = [
  { id: "session", title: "GET /session with a valid cookie" },
  { id: "token", title: "POST /oauth/token, client_credentials (a signed JWT)" },
];

/** The wrk on the PATH, or undefined. */
function findWrk() {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const path = join(dir || ".", "wrk");
    try {
      execFileSync(path, ["--version"], { stdio: "ignore" });
      return path;
    } catch (err) {
      // `wrk --version` prints its banner and exits 1: it is there all the same.
      if (err?.status === 1) return path;
    }
  }
  return undefined;
}

function cli(args, input) {
  return execFileSync(process.execPath, [CLI, ...args], {
    input: input ?? "",
    stdio: ["pipe", "pipe", "pipe"],
  }).toString();
}

/** `tessera serve --port 0 ...`; resolves to `{ port, child }` once it listens. */
function serve(args, label) {
  const child = track(
    spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  child.stderr.on("data", (c) => process.stderr.write(`[${label}] ${c}`));
  return new Promise((resolve, reject) => {
    let text = "";
    let listening = false;
    const timer = setTimeout(() => reject(new Error(`${label} did not listen in 30 s`)), 30_000);
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

async function stop({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 35_000);
  await exited;
  clearTimeout(timer);
}

/** A wrk Lua script for one request shape. */
function script(dir, id, { method, headers, body }) {
  const lines = [`wrk.method = ${JSON.stringify(method)}`];
  for (const [k, v] of Object.entries(headers)) {
    lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  }
  if (body !== undefined) lines.push(`wrk.body = ${JSON.stringify(body)}`);
  const path = join(dir, `${id}.lua`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

const UNIT_MS = { us: 0.001, ms: 1, s: 1000 };

/** Runs wrk for `seconds`; its rate, latency percentiles and bad answers. */
function wrk(bin, port, path, luaScript, seconds) {
  const text = execFileSync(
    bin,
    [
      "-t1",
      `-c${CONNECTIONS}`,
      `-d${seconds}s`,
      "--latency",
      "-s",
      luaScript,
      `http://127.0.0.1:${port}${path}`,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  ).toString();
  const latency = (p) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(text);
    return m === null ? Number.NaN : Number(m[1]) * UNIT_MS[m[2]];
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN),
    total: Number(/(\d+) requests in/.exec(text)?.[1] ?? Number.NaN),
    p50: latency(50),
    p99: latency(99),
    bad:
      Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0) +
      (errors === null ? 0 : errors.slice(1).reduce((a, b) => a + Number(b), 0)),
  };
}

const ms = (v) => (Number.isNaN(v) ? "–" : v < 10 ? v.toFixed(2) : v.toFixed(1));

async function main() {
  const started = performance.now();
  const record = startResults("workers");
  out("# Benchmark: `tessera serve`, 1 worker vs 2 workers (SQLite)");
  out();
  const bin = findWrk();
  if (bin === undefined) {
    out("Skipped: `wrk` is not installed (Debian: `apt install wrk`); this row needs it.");
    log("wrk not found: skipped");
    return;
  }
  const wrkVersion = (() => {
    try {
      return execFileSync(bin, ["--version"], { stdio: ["ignore", "pipe", "pipe"] }).toString();
    } catch (err) {
      return err?.stdout?.toString() ?? "";
    }
  })()
    .split("\n")[0]
    .trim();
  out(
    `- Node ${process.version}, ${os.platform()} ${os.arch()}, ${os.availableParallelism()} CPUs`,
  );
  out(`- date ${new Date().toISOString()}`);
  out(`- load generator: ${wrkVersion}, 1 thread, ${CONNECTIONS} connections`);
  const load0 = os.loadavg();
  out(`- load average (1/5/15 min) at start: ${load0.map((v) => v.toFixed(2)).join(" / ")}`);
  out(`- measured runs ${DURATION_S} s each, after ${WARMUP_S} s of warm-up`);
  out();
  const root = tempRoot("tessera-bench-workers-");
  const data = join(root, "data");
  cli(["user", "add", "bench", "--password-stdin", "--init", "--data", data], PASSWORD);
  const svcOut = cli([
    "client",
    "add",
    "svc",
    "--grants",
    "client_credentials",
    "--audience",
    AUDIENCE,
    "--data",
    data,
  ]);
  const secret = /client_secret: (tsr_[\w-]{57})/.exec(svcOut)?.[1];
  if (secret === undefined) throw new Error("no client secret");
  const svc = `Basic ${Buffer.from(`svc:${secret}`).toString("base64")}`;
  const results = new Map();
  for (const setup of SETUPS) {
    log(`${setup.label}: starting`);
    const server = await serve(["--data", data, ...setup.args], setup.id);
    try {
      const body = JSON.stringify({ username: "bench", password: PASSWORD });
      const res = await request(server.port, "POST", "/login", {
        headers: { "content-type": "application/json", "content-length": String(body.length) },
        body,
      });
      const cookie = res.headers["set-cookie"]?.[0]?.split(";")[0];
      if (res.status !== 200 || cookie === undefined) throw new Error(`login: ${res.status}`);
      const shapes = {
        session: { path: "/session", method: "GET", headers: { cookie } },
        token: {
          path: "/oauth/token",
          method: "POST",
          headers: { authorization: svc, "content-type": "application/x-www-form-urlencoded" },
          body: "grant_type=client_credentials",
        },
      };
      for (const scenario of SCENARIOS) {
        const shape = shapes[scenario.id];
        const lua = script(root, `${setup.id}-${scenario.id}`, shape);
        if (WARMUP_S > 0) wrk(bin, server.port, shape.path, lua, WARMUP_S);
        log(`${setup.label}: ${scenario.id}`);
        results.set(
          `${setup.id}/${scenario.id}`,
          wrk(bin, server.port, shape.path, lua, DURATION_S),
        );
      }
    } finally {
      await stop(server);
    }
  }
  for (const scenario of SCENARIOS) {
    out(`## ${scenario.title}`);
    out();
    const one = results.get(`w1/${scenario.id}`);
    out(
      table(
        ["setup", "req/s", "p50 ms", "p99 ms", "requests", "non-2xx/errors", "vs 1 worker"],
        SETUPS.map((setup) => {
          const r = results.get(`${setup.id}/${scenario.id}`);
          return [
            setup.label,
            Math.round(r.rps).toLocaleString("en-US"),
            ms(r.p50),
            ms(r.p99),
            r.total.toLocaleString("en-US"),
            r.bad,
            `${(r.rps / one.rps).toFixed(2)}×`,
          ];
        }),
      ),
    );
    out();
  }
  const machineNote =
    `On this ${os.availableParallelism()}-core machine, wrk, the SQLite file and the workers share the cores: ` +
    "the second worker can only take what the first leaves to the load generator and the store, so this row " +
    'understates the target\'s case (N workers on N *free* cores). On a machine with more cores, see the README, "Every core".';
  out(machineNote);
  saveResults(
    record,
    SCENARIOS.map((scenario) => {
      const one = results.get(`w1/${scenario.id}`);
      return {
        id: `workers-${scenario.id}`,
        title: `Every core: ${scenario.title}, 1 vs 2 workers`,
        metric: "req/s",
        rows: SETUPS.map((setup) => {
          const r = results.get(`${setup.id}/${scenario.id}`);
          const share = r.rps / one.rps;
          const judged = setup.id === "w2";
          return {
            label: `Tessera, SQLite store, ${setup.label}`,
            value: r.rps,
            tessera: true,
            p99Ms: r.p99,
            ...(judged
              ? {
                  ratio: { value: share, vs: "1 worker" },
                  target: TARGETS.workers.text,
                  met: atLeast(TARGETS.workers, share),
                }
              : {}),
          };
        }),
        notes: `wrk, 1 thread, ${CONNECTIONS} connections, ${DURATION_S} s after ${WARMUP_S} s of warm-up; ${machineNote}`,
      };
    }),
  );
  printFooter(load0, started);
}

runBench(main, { hardLimitMs: HARD_LIMIT_MS });
