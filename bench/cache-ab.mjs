/**
 * The in-process caches (README, "In-process caches") A/B: `tessera serve` as shipped
 * (SQLite, default log level) with `--cache-ttl 30` (the default) and `--cache-ttl 0` (no
 * caches: every request reads the store), alternated A B A B, on GET /session and on the
 * token endpoint (client_credentials) and introspection of an active token. Reports
 * req/s and the server's CPU time per request (utime+stime from /proc, Linux), which a
 * shared machine disturbs far less than throughput.
 *
 *   npm run build && node bench/cache-ab.mjs
 *
 * Knobs (environment): BENCH_DURATION (seconds per run, default 5), BENCH_ROUNDS (A/B
 * pairs, default 2), BENCH_CONNECTIONS (default 32).
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import {
  DURATION_S,
  freePort,
  median,
  num,
  out,
  runBench,
  table,
  tempRoot,
  track,
} from "./lib.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const ROUNDS = num("BENCH_ROUNDS", 2);
const CONNECTIONS = num("BENCH_CONNECTIONS", 32);
const PASSWORD = "Saffron-Glacier-Pillow-81";
const env = { ...process.env, TESSERA_SECRET: "b".repeat(32) };
const TICK = 100; // USER_HZ: clock ticks per second in /proc/PID/stat

function cli(dir, args, stdin) {
  const r = spawnSync(process.execPath, [CLI, ...args, "--data", dir], { env, input: stdin });
  if (r.status !== 0) throw new Error(`tessera ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
}

function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK;
}

async function serve(dir, port, ttl) {
  const child = track(
    spawn(
      process.execPath,
      [CLI, "serve", "--data", dir, "--port", String(port), "--cache-ttl", String(ttl)],
      { env, stdio: ["ignore", "ignore", "inherit"] },
    ),
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { child, base };
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("server did not start");
}

async function run(pid, opts) {
  const before = cpuMs(pid);
  const result = await autocannon({ connections: CONNECTIONS, duration: DURATION_S, ...opts });
  const cpu = cpuMs(pid) - before;
  const n = result.requests.total;
  const bad = result.non2xx + result.errors;
  return { rps: result.requests.average, usPerReq: (cpu * 1000) / n, bad };
}

async function main() {
  const dir = tempRoot("tessera-cache-ab-");
  cli(dir, ["user", "add", "bench", "--password-stdin", "--init"], PASSWORD);
  const secret = /client_secret: (\S+)/.exec(
    cli(dir, [
      "client",
      "add",
      "svc",
      "--grants",
      "client_credentials",
      "--audience",
      "https://api.test",
      "--introspect",
    ]),
  )[1];
  const basic = `Basic ${Buffer.from(`svc:${secret}`).toString("base64")}`;
  const form = { "content-type": "application/x-www-form-urlencoded", authorization: basic };

  const rows = {
    session: { 30: [], 0: [] },
    token: { 30: [], 0: [] },
    introspect: { 30: [], 0: [] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const ttl of [30, 0]) {
      const { child, base } = await serve(dir, await freePort(), ttl);
      try {
        const login = await fetch(`${base}/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "bench", password: PASSWORD }),
        });
        const cookie = /__Host-session=[^;]+/.exec(login.headers.get("set-cookie"))[0];
        const token = (
          await (
            await fetch(`${base}/oauth/token`, {
              method: "POST",
              headers: form,
              body: "grant_type=client_credentials",
            })
          ).json()
        ).access_token;
        const url = base;
        rows.session[ttl].push(
          await run(child.pid, { url: `${url}/session`, headers: { cookie } }),
        );
        rows.token[ttl].push(
          await run(child.pid, {
            url: `${url}/oauth/token`,
            method: "POST",
            headers: form,
            body: "grant_type=client_credentials",
          }),
        );
        rows.introspect[ttl].push(
          await run(child.pid, {
            url: `${url}/oauth/introspect`,
            method: "POST",
            headers: form,
            body: `token=${token}`,
          }),
        );
      } finally {
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      }
    }
  }
  out(
    table(
      [
        "path",
        "cache",
        "req/s (median)",
        "server CPU µs/request (median)",
        "runs (req/s; µs/req)",
        "non-2xx+errors",
      ],
      Object.entries(rows).flatMap(([path, byTtl]) =>
        [30, 0].map((ttl) => {
          const rs = byTtl[ttl];
          return [
            path,
            ttl === 0 ? "off (--cache-ttl 0)" : "on (default)",
            Math.round(median(rs.map((r) => r.rps))),
            Math.round(median(rs.map((r) => r.usPerReq))),
            rs.map((r) => `${Math.round(r.rps)}; ${Math.round(r.usPerReq)}`).join(" / "),
            rs.reduce((sum, r) => sum + r.bad, 0),
          ];
        }),
      ),
    ),
  );
}

runBench(main, { hardLimitMs: 30 * 60 * 1000 });
