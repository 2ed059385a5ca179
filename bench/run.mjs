/**
 * `npm run bench`: the benchmarks of issue "Foundation and session cookies", printed as
 * markdown tables on stdout (progress and child output go to stderr). Never part of
 * `npm test`. See ../shared/PERFORMANCE.md for the targets.
 *
 * 1. argon2id cost alone (@node-rs/argon2 with Tessera's parameters, m=19456, t=2, p=1):
 *    hash and verify, p50/p99; and verifies per second with one in flight per CPU, what
 *    the cores' argon2id allows (the login throughput target is a ratio to it).
 * 2. POST /login end to end against Tessera (SQLite) at concurrency 1 and under load
 *    (autocannon -c 8), with the server's event-loop delay during the load.
 * 3. GET /session with a valid cookie, autocannon -c 32: Tessera (SQLite), Tessera
 *    (Redis), and peers in the same run: bare node:http, bare fastify, express-session
 *    with MemoryStore, express-session + connect-redis on the same redis-server. Tessera
 *    runs as shipped (request logging at the default level, its stdout in a file); a
 *    labelled row runs it with logging off.
 *
 * Results also go to bench/results/run.json for bench/report.mjs (docs/benchmarks.md).
 *
 * Each server runs in its own child process (bench/server.mjs); the load generator
 * (autocannon) runs here, in the parent. Only loopback traffic. A redis-server is started
 * on a free loopback port without persistence if one is installed; otherwise the Redis
 * rows are skipped with a note.
 *
 * Knobs (environment): BENCH_DURATION (seconds per measured run, default 5),
 * BENCH_WARMUP (seconds, default 2), BENCH_ROUNDS (session runs per server, interleaved,
 * default 2; the median is reported), BENCH_ONLY (comma-separated session-bench servers),
 * BENCH_SKIP_LOGIN=1, BENCH_NO_REDIS=1, BENCH_CPU_PROF=DIR (every server runs with --cpu-prof into DIR;
 * summarise with `node bench/cpuprofile-top.mjs DIR/*.cpuprofile`).
 */
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { hash, verify } from "@node-rs/argon2";
import { hashesPerProcess, OWASP_ARGON2_MINIMUM } from "../dist/users/passwords.js";
import {
  aggregate,
  badCell,
  DURATION_S,
  load,
  log,
  measureLoad,
  ms,
  num,
  out,
  printFooter,
  printHeader,
  RATIO_HEADER,
  RESULT_COLUMNS,
  ratio,
  ratioRow,
  request,
  resultCells,
  runBench,
  startServer as startChild,
  startRedis,
  stopRedis,
  summarise,
  table,
  tempRoot,
  verdict,
  WARMUP_S,
} from "./lib.mjs";
import { saveResults, startResults } from "./results.mjs";
import { atLeast, below, TARGETS } from "./targets.mjs";

const SERVER_SCRIPT = fileURLToPath(new URL("./server.mjs", import.meta.url));

const ROUNDS = Math.floor(num("BENCH_ROUNDS", 2));
const ARGON2_RUNS = 40;
const LOGIN_RUNS = 40;
const LOGIN_CONNECTIONS = 8;
const SESSION_CONNECTIONS = 32;
/** The whole run is aborted (and cleaned up) past this. */
const HARD_LIMIT_MS = 8 * 60 * 1000;

/** Tessera's own parameters (what its hasher uses), with @node-rs/argon2's Argon2id. */
const ARGON2_PARAMS = { algorithm: 2 /* Argon2id */, ...OWASP_ARGON2_MINIMUM };
/** Hashes Tessera runs at once by default on this machine (`--argon2-concurrency 0`). */
const DEFAULT_HASHES = hashesPerProcess(os.availableParallelism());

const SESSION_SERVERS = [
  { kind: "http", label: "bare node:http (fixed JSON, no session)", redis: false },
  { kind: "fastify", label: "bare fastify route (fixed JSON, no session)", redis: false },
  { kind: "tessera-sqlite", label: "**Tessera**, SQLite store", redis: false },
  {
    kind: "tessera-sqlite",
    id: "tessera-sqlite-nolog",
    label: "Tessera, SQLite store, request logging off (`--log-level silent`; not the default)",
    redis: false,
    logLevel: "silent",
  },
  { kind: "tessera-redis", label: "**Tessera**, `--redis`", redis: true },
  { kind: "express-memory", label: "express + express-session, MemoryStore", redis: false },
  { kind: "express-redis", label: "express + express-session + connect-redis", redis: true },
].map((spec) => ({ id: spec.kind, ...spec }));

// ── Servers under test (child processes of bench/server.mjs) ────────────────────────────

/** Server `kind` in a child process; `env` is added to this process's environment. */
const startServer = (kind, options, env = {}) => startChild(SERVER_SCRIPT, kind, options, { env });

// ── HTTP client bits ────────────────────────────────────────────────────────────────────

function loginRequest(server) {
  const body = JSON.stringify({ username: server.username, password: server.password });
  return {
    method: "POST",
    path: "/login",
    headers: {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(body)),
    },
    body,
  };
}

/** Logs in and returns the `name=value` of the session cookie. */
async function loginCookie(server) {
  const { method, path, headers, body } = loginRequest(server);
  const res = await request(server.port, method, path, { headers, body });
  const setCookie = res.headers["set-cookie"]?.[0];
  if (res.status !== 200 || setCookie === undefined) {
    throw new Error(`login answered ${res.status} ${res.body.slice(0, 200)}`);
  }
  return setCookie.split(";")[0];
}

// ── 1. argon2id alone ───────────────────────────────────────────────────────────────────

async function benchArgon2() {
  const password = "correct horse battery staple, benchmarked";
  for (let i = 0; i < 3; i++) await verify(await hash(password, ARGON2_PARAMS), password);
  const hashTimes = [];
  let encoded = "";
  for (let i = 0; i < ARGON2_RUNS; i++) {
    const t0 = performance.now();
    encoded = await hash(password, ARGON2_PARAMS);
    hashTimes.push(performance.now() - t0);
  }
  const verifyTimes = [];
  for (let i = 0; i < ARGON2_RUNS; i++) {
    const t0 = performance.now();
    const ok = await verify(encoded, password);
    verifyTimes.push(performance.now() - t0);
    if (!ok) throw new Error("argon2 verify failed");
  }
  return { hash: summarise(hashTimes), verify: summarise(verifyTimes) };
}

/**
 * What the cores' argon2id allows: verifies per second with one verify in flight per CPU
 * (@node-rs/argon2 runs them on libuv's pool, 4 threads by default), for DURATION_S.
 */
async function argon2Throughput(parallel) {
  const password = "correct horse battery staple, benchmarked";
  const encoded = await hash(password, ARGON2_PARAMS);
  let count = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + DURATION_S * 1000;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (performance.now() < end) {
        if (!(await verify(encoded, password))) throw new Error("argon2 verify failed");
        count++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return {
    count,
    perSecond: count / ((performance.now() - t0) / 1000),
    parallel,
    // This process's CPU per verify (every thread; the main thread only awaits).
    cpuUs: (cpu.user + cpu.system) / count,
  };
}

// ── 2. login ────────────────────────────────────────────────────────────────────────────

async function loginLoad(server) {
  const req = loginRequest(server);
  await server.eldStart();
  await server.cpuStart();
  const own = process.cpuUsage();
  const loaded = await load(
    {
      url: `http://127.0.0.1:${server.port}/login`,
      method: "POST",
      // autocannon adds its own content-length; a second one would be a 400.
      headers: { "content-type": req.headers["content-type"] },
      body: req.body,
      connections: LOGIN_CONNECTIONS,
      duration: DURATION_S,
    },
    [],
  );
  const gen = process.cpuUsage(own);
  const used = await server.cpuStop();
  const eld = await server.eldStop();
  return { loaded, eld, cpu: loginCpu(used, gen, loaded) };
}

/**
 * Where the cores went during a loaded login run, in CPU µs per login answered: the server's
 * main thread (HTTP, session insert, logging), the rest of the server process (libuv's pool
 * running argon2id, V8's helpers), the load generator (this process), and how busy the
 * cores were on average (1 = every core all the time).
 */
function loginCpu(used, gen, loaded) {
  const per = (us) => us / loaded.total;
  const all = used.user + used.system;
  const loadgen = gen.user + gen.system;
  return {
    main: used.main === null ? null : per(used.main),
    pool: used.main === null ? null : per(all - used.main),
    server: per(all),
    loadgen: per(loadgen),
    busy: (all + loadgen) / (DURATION_S * 1e6 * os.availableParallelism()),
  };
}

/**
 * POST /login at concurrency 1 and under load; the argon2id-alone throughput is measured
 * right before and right after the loaded run (the server idle), so that both sides of
 * the throughput ratio see the same phase of a shared machine: their mean is the limit.
 */
async function benchLogin(dataDir) {
  const server = await startServer("tessera-sqlite", { dataDir });
  let serial;
  let loaded;
  try {
    const req = loginRequest(server);
    for (let i = 0; i < 5; i++) {
      const res = await request(server.port, req.method, req.path, req);
      if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.body}`);
    }
    const times = [];
    let bad = 0;
    for (let i = 0; i < LOGIN_RUNS; i++) {
      const t0 = performance.now();
      const res = await request(server.port, req.method, req.path, req);
      times.push(performance.now() - t0);
      if (res.status !== 200) bad++;
    }
    serial = { ...summarise(times), bad };
    const before = await argon2Throughput(os.availableParallelism());
    loaded = await loginLoad(server);
    const after = await argon2Throughput(os.availableParallelism());
    loaded.argon = {
      parallel: before.parallel,
      count: before.count + after.count,
      perSecond: (before.perSecond + after.perSecond) / 2,
      before: before.perSecond,
      after: after.perSecond,
      cpuUs: (before.cpuUs + after.cpuUs) / 2,
    };
  } finally {
    await server.close();
  }
  // Tessera's own ceiling at its default `--argon2-concurrency` (one hash less than the CPU
  // count): argon2id alone with that many in flight, right after the loaded run.
  const ceiling = await argon2Throughput(DEFAULT_HASHES);
  // Diagnostic: the same load with one hash per CPU, as many in flight as the argon2id-alone
  // row. Not the default (it lets logins take every core from the event loop).
  const probe = await startServer("tessera-sqlite", {
    dataDir: `${dataDir}-all-cores`,
    argon2Concurrency: os.availableParallelism(),
  });
  try {
    return { serial, ...loaded, ceiling, allCores: await loginLoad(probe) };
  } finally {
    await probe.close();
  }
}

/**
 * Where the cores go during the loaded login runs, and the most a login could reach on them
 * if every core were busy and argon2id cost what it costs alone: the cores' CPU divided by
 * (argon2id alone + the main thread + the load generator) per login, as a ratio to the same
 * cores running argon2id alone (the target's denominator, when that run keeps them busy).
 */
/** (cores / (argon2id + main + load generator)) / (cores / argon2id), per login. */
function loginBound(c, argonMax) {
  return c.main === null ? "–" : ratio(argonMax.cpuUs / (argonMax.cpuUs + c.main + c.loadgen));
}

const us = (x) => (x === null || x === undefined ? "–" : x.toFixed(0));

/** The same, one sentence for docs/benchmarks.md's login notes. */
function loginCpuNote(login, allCores, argonMax) {
  const c = login.cpu;
  return (
    ` Where the cores went during the loaded run, CPU µs per login: server main thread ${us(c.main)}, ` +
    `server pool (argon2id) ${us(c.pool)}, load generator ${us(c.loadgen)}; argon2id alone costs ${us(argonMax.cpuUs)} µs per verify. ` +
    `With every core busy and argon2id at its alone cost, a login could reach at most ${loginBound(c, argonMax)} of the argon2id-alone rate here ` +
    `(${loginBound(allCores.cpu, argonMax)} by the diagnostic run's figures), since the main thread and the load generator need their share of the cores.`
  );
}

function outLoginCpu(login, allCores, argonMax) {
  const bound = (c) => loginBound(c, argonMax);
  const row = (label, c, rps) => [
    label,
    us(c.main),
    us(c.pool),
    us(c.loadgen),
    us(c.server + c.loadgen),
    c.busy.toFixed(2),
    bound(c),
    ratio(rps / argonMax.perSecond),
  ];
  out(
    `Where the ${os.availableParallelism()} cores go during the loaded runs, CPU µs per login answered (server: /proc/self/task/PID/stat for the main thread, \`process.cpuUsage\` for the whole process; load generator: this process). ` +
      `argon2id alone costs **${us(argonMax.cpuUs)} µs** of CPU per verify (${argonMax.parallel} in flight, nothing else running).`,
  );
  out();
  out(
    table(
      [
        "run",
        "server main thread",
        "server pool + helpers (argon2id)",
        "load generator",
        "total",
        "cores busy (1 = all)",
        "bound: all cores busy, argon2id at its alone cost",
        "measured",
      ],
      [
        row("default `--argon2-concurrency`", login.cpu, login.loaded.rps),
        row(
          `\`--argon2-concurrency ${os.availableParallelism()}\` (diagnostic)`,
          allCores.cpu,
          allCores.loaded.rps,
        ),
      ],
    ),
  );
  out();
  out(
    "The bound column is the ratio to the argon2id-alone throughput that a login could reach here if scheduling were perfect: " +
      "the main thread and the load generator need cores too, so the 0.9× target is within reach only while their CPU per login stays under about a ninth of argon2id's. " +
      "Pool CPU above argon2id's alone cost is what running beside the event loop and the load generator costs the hashes (caches, preemption).",
  );
  out();
}

// ── 2b. a legitimate login while another address floods ─────────────────────────────────

const FLOOD_CONNECTIONS = 64;

/** LOGIN_RUNS sequential logins from one address; with `flood`, while another floods. */
async function legitLogins(server, ip) {
  const req = loginRequest(server);
  const headers = { ...req.headers, "x-forwarded-for": ip };
  const times = [];
  let bad = 0;
  for (let i = 0; i < LOGIN_RUNS; i++) {
    const t0 = performance.now();
    const res = await request(server.port, req.method, req.path, { headers, body: req.body });
    times.push(performance.now() - t0);
    if (res.status !== 200) bad++;
  }
  return { ...summarise(times), bad };
}

async function benchLoginFlood(dataDir) {
  const server = await startServer("tessera-flood", { dataDir });
  try {
    const quiet = await legitLogins(server, "198.51.100.2");
    // Wrong passwords for another account from one address at FLOOD_CONNECTIONS: past the
    // account's first 10 failures every attempt is throttled.
    const body = JSON.stringify({ username: "someone-else", password: "wrong password!" });
    const flood = load({
      url: `http://127.0.0.1:${server.port}/login`,
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.1" },
      body,
      connections: FLOOD_CONNECTIONS,
      duration: DURATION_S,
    });
    await new Promise((r) => setTimeout(r, 500));
    const flooded = await legitLogins(server, "198.51.100.3");
    return { quiet, flooded, flood: await flood };
  } finally {
    await server.close();
  }
}

// ── 3. session-checked request ─────────────────────────────────────────────────────────

async function benchSession(spec, options) {
  const server = await startServer(spec.kind, options);
  try {
    const cookie = await loginCookie(server);
    const check = await request(server.port, "GET", "/session", { headers: { cookie } });
    if (check.status !== 200) {
      throw new Error(`GET /session answered ${check.status}: ${check.body.slice(0, 200)}`);
    }
    return await measureLoad(server, {
      url: `http://127.0.0.1:${server.port}/session`,
      headers: { cookie },
      connections: SESSION_CONNECTIONS,
    });
  } finally {
    await server.close();
  }
}

/** The session path for bench/report.mjs: every server, Tessera's ratios and targets. */
function sessionSection(specs, result) {
  const rps = (id) => result.get(id)?.rps ?? Number.NaN;
  const vsExpress = rps("tessera-redis") / rps("express-redis");
  const vsFastify = (id) => rps(id) / rps("fastify");
  const ratioTo = {
    "tessera-sqlite": {
      ratio: { value: vsFastify("tessera-sqlite"), vs: "bare fastify" },
      target: TARGETS.sessionVsFastify.text,
      met: atLeast(TARGETS.sessionVsFastify, vsFastify("tessera-sqlite")),
    },
    "tessera-sqlite-nolog": {
      ratio: { value: vsFastify("tessera-sqlite-nolog"), vs: "bare fastify" },
    },
    "tessera-redis": {
      ratio: { value: vsExpress, vs: "express-session + connect-redis" },
      target: TARGETS.sessionVsExpress.text,
      met: atLeast(TARGETS.sessionVsExpress, vsExpress),
    },
  };
  return {
    id: "session",
    title: "Session-checked request: GET /session with a valid cookie",
    metric: "req/s",
    rows: specs
      .filter((spec) => result.has(spec.id))
      .map((spec) => ({
        label: spec.label.replaceAll("**", ""),
        value: rps(spec.id),
        tessera: spec.id.startsWith("tessera") || undefined,
        p99Ms: result.get(spec.id).p99,
        ...ratioTo[spec.id],
      })),
    checks: [
      {
        what: "Tessera `--redis` / bare fastify",
        measured: ratio(vsFastify("tessera-redis")),
        target: TARGETS.sessionVsFastify.text,
        met: atLeast(TARGETS.sessionVsFastify, vsFastify("tessera-redis")),
      },
    ],
    notes:
      `autocannon -c ${SESSION_CONNECTIONS} in the parent process, each server alone in a child process; ` +
      `median of ${ROUNDS} round(s) of ${DURATION_S} s. Tessera as shipped: default settings, request logging at the ` +
      "default level (info) to a file; the row with logging off is labelled. The express-session peers share Tessera's Redis.",
  };
}

// ── Main ────────────────────────────────────────────────────────────────────────────────

async function main() {
  const started = performance.now();
  const root = tempRoot("tessera-bench-");
  const load0 = printHeader({
    title: "Tessera benchmarks — Foundation and session cookies",
    npmCommand: "npm run bench` (= `npm run build && node bench/run.mjs`)",
    date: `libuv thread pool: ${process.env.UV_THREADPOOL_SIZE ?? "4 (default)"}; `,
    loadGenerator: "; every server under test in its own child process",
    versions: [
      "fastify",
      "@node-rs/argon2",
      "better-sqlite3",
      "ioredis",
      "express",
      "express-session",
      "connect-redis",
      "redis",
    ],
    measured: ` (after ${WARMUP_S} s warm-up for GET /session), ${ROUNDS} round(s) per server`,
  });

  // 1. argon2id
  log("argon2id alone…");
  const argon = await benchArgon2();
  out("## 1. Login");
  out();
  out(
    `### argon2id alone (@node-rs/argon2, m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, p=${ARGON2_PARAMS.parallelism} — Tessera's parameters — one at a time, ${ARGON2_RUNS} runs)`,
  );
  out();
  out(
    table(
      ["operation", "runs", "p50 ms", "p99 ms", "mean ms"],
      [
        ["hash", argon.hash.n, ms(argon.hash.p50), ms(argon.hash.p99), ms(argon.hash.mean)],
        [
          "verify",
          argon.verify.n,
          ms(argon.verify.p50),
          ms(argon.verify.p99),
          ms(argon.verify.mean),
        ],
      ],
    ),
  );
  out();

  const sections = [];
  const results = startResults("run", [
    "fastify",
    "@node-rs/argon2",
    "better-sqlite3",
    "ioredis",
    "express",
    "express-session",
    "connect-redis",
    "redis",
    "autocannon",
  ]);

  // Redis, for the later rows.
  const redis = await startRedis(root);
  const redisUrl = redis.url;

  // 2. login
  if (process.env.BENCH_SKIP_LOGIN !== "1") {
    log("POST /login…");
    const login = await benchLogin(join(root, "login"));
    const { serial, loaded, eld, ceiling, allCores } = login;
    const argonMax = login.argon;
    const loadedRow = (label, l, e) => [
      label,
      l.total,
      l.rps.toFixed(1),
      ms(l.p50),
      ms(l.p99),
      badCell(l),
      `${ms(e.p50)} / ${ms(e.p99)} / ${ms(e.max)}`,
    ];
    out(
      `### POST /login end to end (Tessera, SQLite store, in-process \`Tessera.open\` + \`buildServer\` in a child process)`,
    );
    out();
    out(
      table(
        [
          "load",
          "requests",
          "req/s",
          "p50 ms",
          "p99 ms",
          "non-2xx/errors",
          "event-loop delay p50 / p99 / max ms",
        ],
        [
          [
            `concurrency 1 (sequential, keep-alive)`,
            serial.n,
            "–",
            ms(serial.p50),
            ms(serial.p99),
            serial.bad,
            "–",
          ],
          loadedRow(`autocannon -c ${LOGIN_CONNECTIONS}, ${DURATION_S} s`, loaded, eld),
          loadedRow(
            `diagnostic: same load, \`--argon2-concurrency ${os.availableParallelism()}\` (one hash per CPU; not the default)`,
            allCores.loaded,
            allCores.eld,
          ),
        ],
      ),
    );
    out();
    const limitVerify = argon.verify.p50 + TARGETS.loginP50.slackMs;
    const limitHash = argon.hash.p50 + TARGETS.loginP50.slackMs;
    const throughput = loaded.rps / argonMax.perSecond;
    out(
      `argon2id verify throughput alone, ${argonMax.parallel} in flight (one per CPU), ${DURATION_S} s right before and right after the loaded login run: ` +
        `${argonMax.before.toFixed(1)}/s and ${argonMax.after.toFixed(1)}/s, mean **${argonMax.perSecond.toFixed(1)}/s** — what the cores' argon2id allows. ` +
        `With ${ceiling.parallel} in flight (Tessera's default \`--argon2-concurrency\` on ${os.availableParallelism()} CPUs), after the loaded run: ` +
        `${ceiling.perSecond.toFixed(1)}/s = ${ratio(ceiling.perSecond / argonMax.perSecond)} of that — the most the default allows; ` +
        `Tessera's loaded run is ${ratio(loaded.rps / ceiling.perSecond)} of it.`,
    );
    out();
    outLoginCpu(login, allCores, argonMax);
    out(
      table(
        ["target", "measured", "limit", "verdict"],
        [
          [
            "login p50 (c=1) ≤ argon2id verify p50 + 5 ms",
            `${ms(serial.p50)} ms`,
            `${ms(limitVerify)} ms`,
            verdict(serial.p50 <= limitVerify),
          ],
          [
            "login p50 (c=1) ≤ argon2id hash p50 + 5 ms (PERFORMANCE.md wording)",
            `${ms(serial.p50)} ms`,
            `${ms(limitHash)} ms`,
            verdict(serial.p50 <= limitHash),
          ],
          [
            `event-loop delay p99 < 20 ms under login load (-c ${LOGIN_CONNECTIONS})`,
            `${ms(eld.p99)} ms`,
            "20 ms",
            verdict(below(TARGETS.loginEld, eld.p99)),
          ],
          [
            `login throughput (-c ${LOGIN_CONNECTIONS}) ≥ 0.9× argon2id verifies/s with ${argonMax.parallel} in flight`,
            `${loaded.rps.toFixed(1)}/s = ${ratio(throughput)}`,
            `${(TARGETS.loginThroughput.min * argonMax.perSecond).toFixed(1)}/s`,
            verdict(atLeast(TARGETS.loginThroughput, throughput)),
          ],
        ],
      ),
    );
    out();
    sections.push({
      id: "login",
      title: "Login: POST /login (argon2id verify + session)",
      metric: "logins/s",
      rows: [
        {
          label: `Tessera POST /login, autocannon -c ${LOGIN_CONNECTIONS}`,
          value: loaded.rps,
          tessera: true,
          ratio: { value: throughput, vs: "argon2id alone" },
          target: TARGETS.loginThroughput.text,
          met: atLeast(TARGETS.loginThroughput, throughput),
        },
        {
          label: `argon2id verify alone, ${argonMax.parallel} in flight (one per CPU): the cores' limit (mean of before and after)`,
          value: argonMax.perSecond,
        },
        {
          label: `argon2id verify alone, ${ceiling.parallel} in flight (Tessera's default \`--argon2-concurrency\` here): the ceiling of the row above`,
          value: ceiling.perSecond,
        },
        {
          label: `Tessera POST /login, \`--argon2-concurrency ${os.availableParallelism()}\` (one hash per CPU; diagnostic, not the default)`,
          value: allCores.loaded.rps,
          ratio: { value: allCores.loaded.rps / argonMax.perSecond, vs: "argon2id alone" },
        },
      ],
      checks: [
        {
          what: "login p50 at concurrency 1",
          measured: `${ms(serial.p50)} ms (argon2id verify p50 ${ms(argon.verify.p50)} ms)`,
          target: TARGETS.loginP50.text,
          met: serial.p50 <= limitVerify,
        },
        {
          what: `server event-loop delay p99 under login load (-c ${LOGIN_CONNECTIONS})`,
          measured: `${ms(eld.p99)} ms`,
          target: TARGETS.loginEld.text,
          met: below(TARGETS.loginEld, eld.p99),
        },
      ],
      notes:
        `Tessera with its defaults except the login throttles and the per-IP argon2id queue (all ${LOGIN_CONNECTIONS} connections come from 127.0.0.1). ` +
        "Its `--argon2-concurrency` default is one hash less than the CPU count (so logins never starve the event loop): " +
        `on ${os.availableParallelism()} CPUs that is ${Math.max(1, os.availableParallelism() - 1)} at a time, against ${argonMax.parallel} in the argon2id-alone row. ` +
        "The load generator shares the cores with the server during the login run, not during the argon2id-alone run." +
        loginCpuNote(login, allCores, argonMax),
    });
    out(
      `Notes: login = throttle check + argon2id verify (libuv pool) + session insert. The server runs with ` +
        "`--argon2-queue-per-source 1000`: every connection of the load generator comes from 127.0.0.1, and the " +
        "default (4 waiting per client IP) would answer the excess 503 `server_busy` — see the flood row below " +
        `for the default at work. Under -c ${LOGIN_CONNECTIONS} the ` +
        `${os.availableParallelism()} cores are shared by the argon2id jobs Tessera runs at once (${DEFAULT_HASHES} by default here), the event loop and the load generator, so ` +
        "latency there is mostly queueing; the p50 target is judged at concurrency 1. Event-loop delay: " +
        "`monitorEventLoopDelay({ resolution: 10 })` in the server process, enabled only during the loaded run. " +
        "The diagnostic row is not a target: a fresh server with one hash per CPU in flight, as many as the " +
        "argon2id-alone row, shows what the default's spare core costs in throughput and buys in event-loop delay.",
    );
    out();
  }

  // 2b. login under a throttled flood from another address
  if (process.env.BENCH_SKIP_LOGIN !== "1") {
    log("POST /login under a flood…");
    const { quiet, flooded, flood } = await benchLoginFlood(join(root, "login-flood"));
    out(
      `### A legitimate login while another address floods (${FLOOD_CONNECTIONS} connections of wrong passwords, \`--trust-proxy\`, X-Forwarded-For)`,
    );
    out();
    out(
      table(
        ["legitimate login (sequential, keep-alive)", "runs", "p50 ms", "p99 ms", "failed"],
        [
          ["alone", quiet.n, ms(quiet.p50), ms(quiet.p99), quiet.bad],
          ["during the flood", flooded.n, ms(flooded.p50), ms(flooded.p99), flooded.bad],
        ],
      ),
    );
    out();
    out(
      `Ratio during the flood / alone: p50 ${ratio(flooded.p50 / quiet.p50)}, p99 ${ratio(flooded.p99 / quiet.p99)} ` +
        "(no target in PERFORMANCE.md; before the fair queue, a login behind such a flood waited for every queued hash: seconds).",
    );
    out();
    out(
      `Notes: the flood sent ${flood.total} requests (${flood.rps.toFixed(0)}/s; answers other than 2xx: ${flood.badDetail || "none"}). ` +
        "Throttled attempts are answered without hashing; hashes take turns between client IPs with at most 4 waiting " +
        "per IP, so the legitimate login waits for at most the hash running and one turn of the flood.",
    );
    out();
  }

  // 3. GET /session
  const only = process.env.BENCH_ONLY?.split(",").map((s) => s.trim());
  const specs = SESSION_SERVERS.filter((s) => only === undefined || only.includes(s.id));
  const runs = new Map(specs.map((s) => [s.id, []]));
  const failures = new Map();
  for (let round = 0; round < ROUNDS; round++) {
    for (const spec of specs) {
      if (spec.redis && redisUrl === undefined) continue;
      if (failures.has(spec.id)) continue;
      log(`GET /session: ${spec.id} (round ${round + 1}/${ROUNDS})…`);
      try {
        const options = { dataDir: join(root, `${spec.id}-${round}`), redisUrl };
        if (spec.logLevel !== undefined) options.logLevel = spec.logLevel;
        runs.get(spec.id).push(await benchSession(spec, options));
      } catch (err) {
        failures.set(spec.id, err instanceof Error ? err.message : String(err));
        log(`${spec.id} failed: ${failures.get(spec.id)}`);
      }
    }
  }
  const result = new Map();
  for (const [kind, list] of runs) {
    if (list.length > 0) result.set(kind, aggregate(list));
  }
  const fastify = result.get("fastify")?.rps;
  out(
    `## 2. Session-checked request: GET /session with a valid cookie (autocannon -c ${SESSION_CONNECTIONS}, ${DURATION_S} s)`,
  );
  out();
  out(
    table(
      ["server", ...RESULT_COLUMNS, "server CPU µs/req", "req/s vs bare fastify"],
      specs.map((spec) => {
        const r = result.get(spec.id);
        if (r === undefined) {
          const why =
            failures.get(spec.id) ?? (spec.redis ? `skipped: no Redis (${redis.note})` : "skipped");
          return [spec.label, `${why.split("\n")[0]}`, "–", "–", "–", "–", "–", "–"];
        }
        return [
          spec.label,
          ...resultCells(r),
          r.cpu.toFixed(0),
          fastify ? ratio(r.rps / fastify) : "–",
        ];
      }),
    ),
  );
  out();
  const rv = (name, a, b, target) => ratioRow(name, result.get(a), result.get(b), target);
  out(
    table(RATIO_HEADER, [
      rv(
        "Tessera `--redis` / express-session + connect-redis (same redis-server)",
        "tessera-redis",
        "express-redis",
        TARGETS.sessionVsExpress.min,
      ),
      rv(
        "Tessera (SQLite) / bare fastify",
        "tessera-sqlite",
        "fastify",
        TARGETS.sessionVsFastify.min,
      ),
      rv(
        "Tessera `--redis` / bare fastify",
        "tessera-redis",
        "fastify",
        TARGETS.sessionVsFastify.min,
      ),
      rv(
        "Tessera (SQLite), request logging off / bare fastify (info)",
        "tessera-sqlite-nolog",
        "fastify",
        undefined,
      ),
      rv(
        "Tessera (SQLite) / express-session MemoryStore (info)",
        "tessera-sqlite",
        "express-memory",
        undefined,
      ),
      rv("bare fastify / bare node:http (info)", "fastify", "http", undefined),
    ]),
  );
  out();
  out(
    "Notes: each server runs alone in a child process (`bench/server.mjs`), one at a time; autocannon runs in " +
      "this parent process, so on a 2-core machine server and load generator get about one core each. " +
      "Latencies are autocannon's per-response times (2xx only), taken in the load generator. " +
      "The bare routes answer a fixed JSON body of the same shape as Tessera's GET /session and check nothing. " +
      "Tessera runs with its defaults (idle timeout 30 min, last-seen written at most once a minute, so a check is a " +
      "session read + a user read); with `--redis` sessions are in Redis and users stay in SQLite. " +
      "express-session: `resave: false`, `saveUninitialized: false`, cookie `maxAge` 30 min (idle), signed cookie; on each " +
      "request it reads the session and touches it (connect-redis: GET + EXPIRE; key prefix `sess:`, Tessera's `tessera:`). " +
      "Login for every server happens once, before the warm-up. " +
      "Server CPU µs/req: user+system CPU of the server process during the measured run (`process.cpuUsage`) divided by " +
      "the requests answered; it excludes redis-server's own CPU, and it is what bounds req/s once a server is saturated " +
      "(a bare server may instead be bounded by the load generator: compare both columns).",
  );
  out();
  printFooter(load0, started);
  sections.push(sessionSection(specs, result));
  saveResults(results, sections);

  await stopRedis(redis);
}

runBench(main, { hardLimitMs: HARD_LIMIT_MS });
