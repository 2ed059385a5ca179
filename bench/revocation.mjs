// Revocation: how fast a revoked JWT is refused at every API, and what the guard's
// in-memory denylist costs per verify.
//
//   npm run build && node bench/revocation.mjs
//
// 1. Propagation. Two Tessera instances (`tessera serve`, separate processes) sharing one
//    SQLite data dir and a throwaway redis-server, two API processes
//    (bench/revocation-api.mjs: node:http + tessera/guard), API 1 following instance A's
//    revocation feed, API 2 instance B's. JWTs are issued up front (client_credentials at
//    A); then, one at a time, each is checked accepted (200) at both APIs, revoked at A
//    (POST /oauth/revoke), and both APIs are polled in a tight loop over keep-alive
//    connections until each answers 401. The time is taken from just before the revoke
//    request is sent to the arrival of each API's first 401 (bounded; past the bound it
//    counts as a failure). Without redis-server: one instance, SQLite only (said so).
// 2. Denylist size. In this process, guards fed by a fake feed on 127.0.0.1
//    (docs/revocation-feed.md): an empty snapshot against a 100,000-entry one, then a
//    1,000,000-entry one, verifying the same tokens — fresh (cacheSize 0: signature check +
//    denylist lookup) and cached (the default cache: a denylist lookup on every hit).
//    Interleaved rounds, medians. The heap per entry is measured in a separate process
//    (bench/denylist-heap.mjs, --expose-gc).
// Results also go to bench/results/revocation.json for bench/report.mjs.
//
// Env: BENCH_REVOCATIONS (default 1000), BENCH_REVOCATION_BOUND_MS (per wait, default 2000),
// BENCH_NO_REDIS=1 (single-instance variant), BENCH_DENYLIST_MS (per measurement, default
// 150), BENCH_DENYLIST_ROUNDS (default 9).
import { execFile, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes, randomUUID, sign } from "node:crypto";
import { mkdirSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  log,
  median,
  num,
  out,
  ratio,
  runBench,
  startRedis,
  stopRedis,
  table,
  tempRoot,
  verdict,
} from "./lib.mjs";
import { saveResults, startResults } from "./results.mjs";
import { atLeast, atMost, below, TARGETS } from "./targets.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const API_SCRIPT = fileURLToPath(new URL("./revocation-api.mjs", import.meta.url));
const ISSUER = "http://auth.bench.test";
const AUDIENCE = "https://api.bench.test";
const REVOCATIONS = num("BENCH_REVOCATIONS", 1000);
const WARMUP_REVOCATIONS = 20;
const BOUND_MS = num("BENCH_REVOCATION_BOUND_MS", 2000);
const TARGET_P99_MS = TARGETS.revocationP99.max;
const DENY_MS = num("BENCH_DENYLIST_MS", 150);
const DENY_ROUNDS = num("BENCH_DENYLIST_ROUNDS", 9);
/** Denylist sizes measured against an empty one, and the target of each. */
const DENY_SIZES = [
  [100_000, TARGETS.denylist100k],
  [1_000_000, TARGETS.denylist1M],
];
const HEAP_SCRIPT = fileURLToPath(new URL("./denylist-heap.mjs", import.meta.url));
/** What bench/report.mjs gets from this script. */
const sections = [];
const FRESH_TOKENS = 512;

// ── Processes started here (Tessera, APIs): stopped at exit, SIGINT, SIGTERM ────────────

const mine = new Set();
process.on("exit", () => {
  for (const child of mine) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

function own(child) {
  mine.add(child);
  child.once("exit", () => mine.delete(child));
  return child;
}

/** Our environment without TESSERA_* (a developer's settings must not leak in). */
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("TESSERA_")) env[k] = v;
  return { ...env, ...extra };
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

function runCli(args) {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [CLI, ...args],
      { env: childEnv(), timeout: 20_000 },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`tessera ${args.slice(0, 3).join(" ")}: ${err.message}\n${stderr}`));
        else resolve(stdout);
      },
    );
    own(child);
  });
}

/** Spawns `node script args`, resolves with the first match of `pattern` on its stdout. */
function startProcess(label, args, pattern, env = {}, stdin = "ignore") {
  const child = own(
    spawn(process.execPath, args, {
      env: childEnv(env),
      stdio: [stdin, "pipe", "pipe"],
    }),
  );
  let output = "";
  child.stderr.on("data", (c) => {
    output = (output + c).slice(-4000);
    process.stderr.write(`[${label}] ${c}`);
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error(`${label} did not start within 20 s\n${output}`));
    }, 20_000);
    child.once("exit", (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${label} exited during start (${signal ?? code})\n${output}`));
    });
    child.stdout.on("data", (c) => {
      output = (output + c).slice(-4000);
      if (settled) return;
      const m = pattern.exec(output);
      if (m === null) return;
      settled = true;
      clearTimeout(timer);
      resolve({ child, port: Number(m[1]) });
    });
  });
}

const startTessera = (label, args) =>
  startProcess(
    label,
    [CLI, "serve", "--port", "0", ...args],
    /Tessera listening on https?:\/\/\S+:(\d+)/,
  );

const startApi = (label, tesseraPort, secret) =>
  startProcess(
    label,
    [API_SCRIPT],
    /api listening on (\d+)/,
    {
      API_ISSUER: ISSUER,
      API_AUDIENCE: AUDIENCE,
      API_TESSERA: `http://127.0.0.1:${tesseraPort}`,
      API_CLIENT_ID: "rs",
      API_CLIENT_SECRET: secret,
    },
    "pipe", // the API exits when its stdin closes: it cannot outlive us
  );

// ── HTTP over keep-alive connections ────────────────────────────────────────────────────

const agents = [];
function keepAlive(maxSockets = 1) {
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  agents.push(agent);
  return agent;
}

/** One request; resolves `{ status, body }`. */
function call(agent, port, method, path, headers = {}, body = undefined) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => {
        data += c;
      });
      res.on("end", () => resolve({ status: res.statusCode, body: data }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** One request whose body is ignored: resolves the status. */
function status(agent, port, path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, headers, agent }, (res) => {
      res.on("end", () => resolve(res.statusCode));
      res.on("error", reject);
      res.resume();
    });
    req.on("error", reject);
    req.end();
  });
}

const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
const FORM = "application/x-www-form-urlencoded";

// ── Statistics ──────────────────────────────────────────────────────────────────────────

/** Nearest-rank percentile of an ascending array. */
function pct(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

const f2 = (v) => (Number.isNaN(v) ? "–" : v.toFixed(2));
const int = (v) => Math.round(v).toLocaleString("en-US");

function latencyRow(name, values, failures, target) {
  const s = Float64Array.from(values).sort();
  const p99 = pct(s, 99);
  return [
    name,
    int(s.length),
    int(failures),
    f2(pct(s, 50)),
    f2(pct(s, 90)),
    f2(p99),
    f2(s.length ? s[s.length - 1] : Number.NaN),
    target ? `p99 < ${TARGET_P99_MS} ms` : "–",
    target ? verdict(failures === 0 && below(TARGETS.revocationP99, p99)) : "–",
  ];
}

// ── 1. Propagation ──────────────────────────────────────────────────────────────────────

/** Polls until the API answers 401; `{ ms }` (from `start`), or `{ timeout }` past the bound. */
async function refusedAt(api, headers, start, poll) {
  for (;;) {
    const t0 = performance.now();
    const code = await status(api.agent, api.port, "/whoami", headers);
    const t1 = performance.now();
    poll.rtt.push(t1 - t0);
    poll.count++;
    if (code === 401) return { ms: t1 - start };
    if (code !== 200) poll.other.set(code, (poll.other.get(code) ?? 0) + 1);
    if (t1 - start > BOUND_MS) return { timeout: true };
  }
}

async function propagation(root) {
  const redis = await startRedis(root);
  const data = join(root, "data");
  mkdirSync(data);
  const base = ["--data", data, "--issuer", ISSUER];
  if (redis.url)
    base.push("--redis", redis.url, "--redis-prefix", `tessera-bench-rev-${process.pid}:`);
  const secretOf = (stdout) => /client_secret: (tsr_[\w-]{57})/.exec(stdout)?.[1];
  const add = (id, ...extra) =>
    runCli([
      "client",
      "add",
      id,
      "--grants",
      "client_credentials",
      "--audience",
      AUDIENCE,
      ...extra,
      ...base,
    ]);
  // No server has made the installation yet: the first command may (--init).
  const svcSecret = secretOf(await add("svc", "--init"));
  const rsSecret = secretOf(await add("rs", "--introspect"));
  if (!svcSecret || !rsSecret) throw new Error("client add printed no client_secret");

  const a = await startTessera("tessera A", base);
  const b = redis.url ? await startTessera("tessera B", base) : a;
  const apis = [
    { name: "API 1 (feed from A)", ...(await startApi("api 1", a.port, rsSecret)) },
    {
      name: redis.url ? "API 2 (feed from B)" : "API 2 (feed from A)",
      ...(await startApi("api 2", b.port, rsSecret)),
    },
  ];
  for (const api of apis) api.agent = keepAlive();
  log(
    redis.url
      ? `tessera A :${a.port}, B :${b.port} on ${redis.url}; APIs :${apis[0].port}, :${apis[1].port}`
      : `single instance :${a.port} (no Redis: ${redis.note}); APIs :${apis[0].port}, :${apis[1].port}`,
  );

  // Tokens up front, at A.
  const total = REVOCATIONS + WARMUP_REVOCATIONS;
  const issueAgent = keepAlive(4);
  const svcAuth = basic("svc", svcSecret);
  const tokens = new Array(total);
  let next = 0;
  const issueStart = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < total) {
        const i = next++;
        const res = await call(
          issueAgent,
          a.port,
          "POST",
          "/oauth/token",
          {
            "content-type": FORM,
            authorization: svcAuth,
          },
          "grant_type=client_credentials",
        );
        if (res.status !== 200)
          throw new Error(`token endpoint answered ${res.status}: ${res.body}`);
        tokens[i] = JSON.parse(res.body).access_token;
      }
    }),
  );
  const issueS = (performance.now() - issueStart) / 1000;
  log(`${total} tokens issued in ${issueS.toFixed(1)} s; revoking`);

  const statsOf = async () =>
    Promise.all(
      apis.map(async (api) => JSON.parse((await call(api.agent, api.port, "GET", "/stats")).body)),
    );

  const revokeAgent = keepAlive();
  const revokeMs = [];
  const perApi = apis.map(() => ({ ms: [], timeouts: 0 }));
  const every = [];
  let everyFailures = 0;
  let notAccepted = 0;
  let revokeErrors = 0;
  const polls = apis.map(() => ({ rtt: [], count: 0, other: new Map() }));
  let stats0;
  const phaseStart = performance.now();
  for (let i = 0; i < total; i++) {
    const measured = i >= WARMUP_REVOCATIONS;
    if (i === WARMUP_REVOCATIONS) {
      stats0 = await statsOf();
      for (const p of polls) {
        p.rtt = [];
        p.count = 0;
        p.other.clear();
      }
    }
    const token = tokens[i];
    const headers = { authorization: `Bearer ${token}` };
    // Accepted at both APIs first (this also puts it in each guard's verified-token cache).
    const before = await Promise.all(
      apis.map((api) => status(api.agent, api.port, "/whoami", headers)),
    );
    if (before.some((s) => s !== 200)) {
      if (measured) notAccepted++;
      continue;
    }
    const start = performance.now();
    const revoked = call(
      revokeAgent,
      a.port,
      "POST",
      "/oauth/revoke",
      {
        "content-type": FORM,
        authorization: svcAuth,
      },
      `token=${token}`,
    ).then((res) => ({ status: res.status, ms: performance.now() - start }));
    const results = await Promise.all(
      apis.map((api, k) => refusedAt(api, headers, start, polls[k])),
    );
    const rv = await revoked;
    if (!measured) continue;
    if (rv.status === 200) revokeMs.push(rv.ms);
    else revokeErrors++;
    results.forEach((r, k) => {
      if (r.timeout) perApi[k].timeouts++;
      else perApi[k].ms.push(r.ms);
    });
    if (results.some((r) => r.timeout)) everyFailures++;
    else every.push(Math.max(...results.map((r) => r.ms)));
  }
  const phaseS = (performance.now() - phaseStart) / 1000;
  const stats1 = await statsOf();

  const mode = redis.url
    ? "two Tessera instances (separate processes) sharing SQLite + Redis; API 1 follows A's feed, API 2 B's"
    : `**single-instance variant** (no redis-server: ${redis.note}): one Tessera instance on SQLite, both APIs follow its feed`;
  out("## 1. Revocation → refused at every API");
  out();
  out(`- setup: ${mode}; every revocation is sent to A`);
  out(
    `- ${int(REVOCATIONS)} revocations, one at a time (after ${WARMUP_REVOCATIONS} warm-up ones not counted); bound per wait ${BOUND_MS} ms (past it: a failure)`,
  );
  out(
    `- time from just before \`POST /oauth/revoke\` is sent to the arrival of the API's first 401 for that token; each token was answered 200 by both APIs right before (so it sat in each guard's verified-token cache)`,
  );
  out();
  const header = [
    "what",
    "n",
    "failures",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "target",
    "verdict",
  ];
  const rows = [
    latencyRow(apis[0].name, perApi[0].ms, perApi[0].timeouts, false),
    latencyRow(apis[1].name, perApi[1].ms, perApi[1].timeouts, false),
    latencyRow(
      "both APIs pooled",
      [...perApi[0].ms, ...perApi[1].ms],
      perApi[0].timeouts + perApi[1].timeouts,
      false,
    ),
    latencyRow("**refused at every API** (later of the two)", every, everyFailures, true),
    latencyRow("revoke request itself (→ 200 from A)", revokeMs, revokeErrors, false),
  ];
  out(table(header, rows));
  out();
  const q = (values) => {
    const sorted = Float64Array.from(values).sort();
    return { p50: pct(sorted, 50), p99: pct(sorted, 99), n: sorted.length };
  };
  const everyQ = q(every);
  const latencyEntry = (label, values, failures, extra = {}) => {
    const v = q(values);
    return { label, value: v.p99, p50Ms: v.p50, n: v.n, failures, ...extra };
  };
  sections.push({
    id: "revocation",
    title: "Revocation → refused at every API",
    metric: "p99 ms",
    lowerIsBetter: true,
    rows: [
      latencyEntry("refused at every API (the later of the two)", every, everyFailures, {
        tessera: true,
        target: TARGETS.revocationP99.text,
        met: everyFailures === 0 && below(TARGETS.revocationP99, everyQ.p99),
      }),
      latencyEntry(apis[0].name, perApi[0].ms, perApi[0].timeouts, { tessera: true }),
      latencyEntry(apis[1].name, perApi[1].ms, perApi[1].timeouts, { tessera: true }),
      latencyEntry("the revoke request itself (→ 200 from A), for scale", revokeMs, revokeErrors),
    ],
    notes:
      `${mode}. ${int(REVOCATIONS)} revocations one at a time; time from just before \`POST /oauth/revoke\` is sent ` +
      "to each API's first 401 (APIs polled in a tight loop: an upper bound). Tessera as shipped (`tessera serve`, default settings and log level).",
  });
  if (notAccepted > 0)
    out(
      `- **${notAccepted} tokens were not accepted (200) by both APIs before revocation**; skipped`,
    );

  // What polling costs.
  const pollRows = apis.map((api, k) => {
    const p = polls[k];
    const s0 = stats0[k];
    const s1 = stats1[k];
    const requests = s1.requests - s0.requests;
    const cpuUs = s1.cpu.user + s1.cpu.system - (s0.cpu.user + s0.cpu.system);
    const rtt = Float64Array.from(p.rtt).sort();
    const other = [...p.other].map(([c, n]) => `${c}×${n}`).join(" ") || "0";
    return [
      api.name,
      int(p.count),
      f2(p.count / REVOCATIONS),
      f2(pct(rtt, 50)),
      f2(pct(rtt, 99)),
      f2(cpuUs / Math.max(1, requests)),
      `${s1.guard.introspections - s0.guard.introspections} / ${s1.guard.jwksFetches - s0.guard.jwksFetches}`,
      other,
      `${s1.feed.status}, ${s1.feed.reconnects}`,
    ];
  });
  out(
    table(
      [
        "polled API",
        "polls",
        "polls per revocation",
        "poll round trip p50 ms",
        "p99 ms",
        "API CPU µs per request",
        "introspections / JWKS fetches during the run",
        "answers other than 200/401",
        "feed status, reconnects",
      ],
      pollRows,
    ),
  );
  out();
  out(
    `- Each poll is a local verify in the API (verified-token cache hit + denylist lookup): no I/O to Tessera, as the introspection and JWKS-fetch counts above show. The resolution of each measurement is one poll round trip (the 401 is timed at its arrival).`,
  );
  out(
    `- The polling is not free for the measurement: the parent and both APIs spin in a tight loop on a ${os.availableParallelism()}-CPU machine while A${redis.url ? ", B and Redis" : ""} must do the work being measured, so the figures are an upper bound of what a quiet deployment would see.`,
  );
  out(
    `- Tokens issued up front: ${int(total)} in ${issueS.toFixed(1)} s (4 in flight); revocation phase ${phaseS.toFixed(1)} s.`,
  );
  out();

  for (const ag of agents.splice(0)) ag.destroy();
  await Promise.all(apis.map((api) => stop(api.child)));
  await stop(a.child);
  if (b !== a) await stop(b.child);
  await stopRedis(redis);
}

// ── 2. Denylist size ────────────────────────────────────────────────────────────────────

/** A fake revocation feed: /empty/events/revocations and /big/events/revocations. */
async function fakeFeed(entries) {
  const streams = new Set();
  const server = http.createServer((req, res) => {
    const path = req.url ?? "";
    const list =
      path === "/big/events/revocations"
        ? entries
        : path === "/empty/events/revocations"
          ? []
          : undefined;
    if (list === undefined || !req.headers.authorization?.startsWith("Basic ")) {
      res.statusCode = list === undefined ? 404 : 401;
      res.end();
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
    res.write("retry: 2000\n\n");
    res.write(
      `id: bench.1\nevent: snapshot\ndata: ${JSON.stringify({ jwt: list, opaque: [], subject: [] })}\n\n`,
    );
    res.write(`event: synced\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`);
    streams.add(res);
    res.on("close", () => streams.delete(res));
  });
  const heartbeat = setInterval(() => {
    for (const res of streams)
      res.write(`event: heartbeat\ndata: ${JSON.stringify({ at: Date.now() })}\n\n`);
  }, 5000);
  heartbeat.unref();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        clearInterval(heartbeat);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function mint(privateKey, kid, n) {
  const now = Math.floor(Date.now() / 1000);
  const h = Buffer.from(JSON.stringify({ alg: "EdDSA", typ: "at+jwt", kid })).toString("base64url");
  return Array.from({ length: n }, (_, i) => {
    const claims = {
      iss: ISSUER,
      sub: `user-${i}`,
      aud: AUDIENCE,
      exp: now + 3600,
      iat: now,
      jti: randomUUID(),
      client_id: "bench-client",
      scope: "orders:read",
    };
    const input = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    return `${input}.${sign(null, Buffer.from(input), privateKey).toString("base64url")}`;
  });
}

/** Runs `fn(i)` for ~DENY_MS ms; returns ops/s. */
async function measure(fn, isAsync) {
  let ops = 0;
  const start = process.hrtime.bigint();
  const limit = start + BigInt(DENY_MS) * 1_000_000n;
  let now = start;
  while (now < limit) {
    if (isAsync) for (let k = 0; k < 32; k++) await fn(ops++);
    else for (let k = 0; k < 32; k++) fn(ops++);
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

/**
 * Heap bytes per denylist entry: a child process (--expose-gc, nothing else in its heap)
 * follows the fake feed with a guard on the empty snapshot, then one on the big snapshot;
 * the heap growth after a full GC, divided by the entries.
 */
function heapPerEntry(port, size) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--expose-gc", HEAP_SCRIPT, String(port), ISSUER, AUDIENCE, String(size)],
      { timeout: 120_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout));
      },
    );
  });
}

async function denylistSize(DENY_ENTRIES, DENY_TARGET) {
  const { createGuard } = await import("../dist/guard/index.js");
  const now = Math.floor(Date.now() / 1000);
  // jtis shaped as Tessera mints them (16 random bytes, base64url): a snapshot of 10⁶
  // UUID-shaped ones would pass the guard's 64 MiB limit on one event.
  const entries = Array.from({ length: DENY_ENTRIES }, () => [
    randomBytes(16).toString("base64url"),
    ISSUER,
    now + 3600,
  ]);
  const feed = await fakeFeed(entries);
  log(`denylist of ${int(DENY_ENTRIES)}: heap per entry…`);
  const heap = await heapPerEntry(feed.port, DENY_ENTRIES);
  const kid = "bench-ed25519";
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, alg: "EdDSA", use: "sig" };
  const guardFor = (list, cacheSize) =>
    createGuard({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwks: { keys: [jwk] },
      cacheSize,
      introspection: {
        clientId: "rs",
        clientSecret: "bench-secret",
        url: `http://127.0.0.1:${feed.port}/oauth/introspect`,
      },
      revocations: { url: `http://127.0.0.1:${feed.port}/${list}/events/revocations` },
    });
  const guards = {
    freshEmpty: guardFor("empty", 0),
    freshBig: guardFor("big", 0),
    cachedEmpty: guardFor("empty", undefined),
    cachedBig: guardFor("big", undefined),
  };
  const loadStart = performance.now();
  await Promise.all(Object.values(guards).map((g) => g.ready()));
  const loadMs = performance.now() - loadStart;
  for (const [name, g] of Object.entries(guards)) {
    const st = g.feedState();
    const want = name.endsWith("Big") ? DENY_ENTRIES : 0;
    if (st.status !== "live" || st.entries.jwt !== want) {
      throw new Error(
        `${name}: feed ${st.status} with ${st.entries.jwt} JWT entries, expected ${want}`,
      );
    }
  }
  const inputs = mint(privateKey, kid, FRESH_TOKENS).map((t) => ({ authorization: `Bearer ${t}` }));
  const one = inputs[0];
  for (const g of Object.values(guards)) for (const i of inputs.slice(0, 4)) g.verifySync(i);
  // The cached guards have seen `one`; every later verify of it is a cache hit.
  const n = inputs.length;
  const pairs = [
    [
      "fresh token, verifySync (cacheSize 0)",
      (i) => guards.freshEmpty.verifySync(inputs[i % n]),
      (i) => guards.freshBig.verifySync(inputs[i % n]),
      false,
    ],
    [
      "fresh token, await verify (cacheSize 0)",
      (i) => guards.freshEmpty.verify(inputs[i % n]),
      (i) => guards.freshBig.verify(inputs[i % n]),
      true,
    ],
    [
      "cached token, verifySync (default cache)",
      () => guards.cachedEmpty.verifySync(one),
      () => guards.cachedBig.verifySync(one),
      false,
    ],
    [
      "cached token, await verify (default cache)",
      () => guards.cachedEmpty.verify(one),
      () => guards.cachedBig.verify(one),
      true,
    ],
  ];
  const results = pairs.map(() => ({ empty: [], big: [], ratios: [] }));
  for (const [, e, b, isAsync] of pairs) {
    await measure(e, isAsync);
    await measure(b, isAsync);
  }
  for (let r = 0; r < DENY_ROUNDS; r++) {
    for (let c = 0; c < pairs.length; c++) {
      const [, e, b, isAsync] = pairs[c];
      // Alternate which goes first, so drift within a round favours neither.
      let eOps;
      let bOps;
      if (r % 2 === 0) {
        eOps = await measure(e, isAsync);
        bOps = await measure(b, isAsync);
      } else {
        bOps = await measure(b, isAsync);
        eOps = await measure(e, isAsync);
      }
      results[c].empty.push(eOps);
      results[c].big.push(bOps);
      results[c].ratios.push(bOps / eOps);
    }
  }
  for (const g of Object.values(guards)) g.close();
  await feed.close();

  out(`## 2. Guard verify with a ${int(DENY_ENTRIES)}-entry denylist vs an empty one`);
  out();
  out(
    `- one process; four guards (EdDSA, inline JWKS, Ed25519 key generated here) fed by a fake revocation feed on 127.0.0.1: an empty snapshot, or ${int(DENY_ENTRIES)} random jtis of the same issuer (entries the guards reported: ${int(guards.freshBig.feedState().entries.jwt)}); the four guards loaded and synced in ${int(loadMs)} ms`,
  );
  out(
    `- fresh: ${FRESH_TOKENS} distinct tokens in turn, cacheSize 0 (a signature check + denylist lookup each); cached: one token already verified, default cache (a denylist lookup on every hit)`,
  );
  out(
    `- median ops/s over ${DENY_ROUNDS} interleaved rounds × ${DENY_MS} ms (order alternated per round), one call in flight; the paired ratio is the median of the per-round ratios`,
  );
  out();
  out(
    table(
      [
        "contender",
        "empty denylist ops/s",
        `${int(DENY_ENTRIES)} denylist ops/s`,
        `ratio ${int(DENY_ENTRIES)}/empty (medians)`,
        "ratio (paired)",
        "target",
        "verdict",
      ],
      pairs.map(([name], c) => {
        const e = median(results[c].empty);
        const b = median(results[c].big);
        const paired = median(results[c].ratios);
        return [
          name,
          int(e),
          int(b),
          ratio(b / e),
          ratio(paired),
          DENY_TARGET.text,
          verdict(atLeast(DENY_TARGET, paired)),
        ];
      }),
    ),
  );
  out();
  out(
    `Heap per entry (a separate process with only the guards, after a full GC): ${heap.bytesPerEntry.toFixed(1)} bytes ` +
      `(heap ${int(heap.emptyHeap)} → ${int(heap.bigHeap)} bytes; target ${TARGETS.denylistBytes.text}: ${verdict(atMost(TARGETS.denylistBytes, heap.bytesPerEntry))}).`,
  );
  out();
  const [fresh, , cached] = pairs.map((_, c) => ({
    empty: median(results[c].empty),
    big: median(results[c].big),
    paired: median(results[c].ratios),
  }));
  const sizeLabel =
    DENY_ENTRIES >= 1_000_000 ? `${DENY_ENTRIES / 1_000_000}M` : `${DENY_ENTRIES / 1000}k`;
  sections.push({
    id: `denylist-${sizeLabel.toLowerCase()}`,
    title: `Guard verify with a ${int(DENY_ENTRIES)}-entry denylist vs an empty one`,
    metric: "verifies/s",
    rows: [
      {
        label: `fresh token, ${sizeLabel} denylist`,
        value: fresh.big,
        tessera: true,
        ratio: { value: fresh.paired, vs: "empty denylist (paired rounds)" },
        target: DENY_TARGET.text,
        met: atLeast(DENY_TARGET, fresh.paired),
      },
      { label: "fresh token, empty denylist", value: fresh.empty, tessera: true },
      {
        label: `cached token, ${sizeLabel} denylist`,
        value: cached.big,
        tessera: true,
        ratio: { value: cached.paired, vs: "empty denylist (paired rounds)" },
        target: DENY_TARGET.text,
        met: atLeast(DENY_TARGET, cached.paired),
      },
      { label: "cached token, empty denylist", value: cached.empty, tessera: true },
    ],
    checks: [
      {
        what: "guard heap per denylist entry",
        measured: `${heap.bytesPerEntry.toFixed(1)} bytes`,
        target: TARGETS.denylistBytes.text,
        met: atMost(TARGETS.denylistBytes, heap.bytesPerEntry),
      },
    ],
    notes:
      `Guards (EdDSA, verifySync) fed by a fake revocation feed on loopback: ${int(DENY_ENTRIES)} random jtis vs none; ` +
      `median of ${DENY_ROUNDS} interleaved rounds × ${DENY_MS} ms, ratio = median of per-round paired ratios. ` +
      "Heap per entry measured in a separate process (`--expose-gc`): heap used after a full GC with a guard on the big snapshot, minus with one on the empty snapshot.",
  });
}

// ── Main ────────────────────────────────────────────────────────────────────────────────

runBench(
  async () => {
    const started = performance.now();
    const cpus = os.cpus();
    const load0 = os.loadavg();
    const command =
      process.env.npm_lifecycle_event === "bench"
        ? "npm run bench` (… `&& node bench/revocation.mjs`)"
        : `node ${process.argv
            .slice(1)
            .map((p) => p.replace(`${process.cwd()}/`, ""))
            .join(" ")}\``;
    const knobs = Object.entries(process.env)
      .filter(([k]) => k.startsWith("BENCH_"))
      .map(([k, v]) => `${k}=${v} `)
      .join("");
    out("# Revocation: propagation to every API, and the denylist's cost per verify");
    out();
    out(`- command: \`${knobs}${command}`);
    out(
      `- Node ${process.version}, ${os.platform()} ${os.arch()}, ${os.availableParallelism()} CPUs (${cpus[0]?.model.trim() ?? "?"})`,
    );
    out(`- date ${new Date().toISOString()}`);
    out(`- load average (1/5/15 min) at start: ${load0.map((v) => v.toFixed(2)).join(" / ")}`);
    out(
      "- loopback only; every process, temp dir and redis-server started here is removed at exit",
    );
    out();
    const root = tempRoot("tessera-bench-revocation-");
    const record = startResults("revocation", ["ioredis", "better-sqlite3"]);
    await propagation(root);
    for (const [size, target] of DENY_SIZES) await denylistSize(size, target);
    saveResults(record, sections);
    const load1 = os.loadavg();
    out(`Load average (1/5/15 min) at end: ${load1.map((v) => v.toFixed(2)).join(" / ")}.`);
    if (Math.max(load0[0], load1[0]) > 2.5) {
      out(
        "**Warning**: the load average shows other processes competing for the cores during this run; numbers are noisier than usual.",
      );
    }
    out(`Total bench time: ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  },
  { hardLimitMs: 360_000 },
);
