/**
 * `npm run bench` (a step of it), or alone: `npm run build && node bench/feed.mjs`. The
 * revocation feed under fan-out: one Tessera instance (`tessera serve`, default settings
 * and log level, SQLite), `N` subscribers following GET /events/revocations as real SSE
 * connections from a separate process (bench/feed-subscribers.mjs), while this process
 * revokes JWTs (POST /oauth/revoke) at a steady rate. Measured: the delivery latency of
 * every (revocation, subscriber) pair, from just before the revoke request is sent to the
 * event's arrival at the subscriber, both taken on the machine's monotonic clock.
 *
 * Two runs in the same process and on the same server: 1 subscriber (the floor: what one
 * revocation costs to deliver at all) and BENCH_FEED_SUBSCRIBERS (default 1,000, the
 * target's figure) — both at BENCH_FEED_RATE revocations/s (default 1,000) for
 * BENCH_FEED_SECONDS (default 3), after 0.2 s of warm-up at the same rate.
 */
import { execFile, fork, spawn } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CPU_PROF_DIR,
  log,
  ms,
  num,
  out,
  runBench,
  table,
  tempRoot,
  track,
  verdict,
} from "./lib.mjs";
import { saveResults, startResults } from "./results.mjs";
import { below, TARGETS } from "./targets.mjs";

const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
const SUBSCRIBERS_SCRIPT = fileURLToPath(new URL("./feed-subscribers.mjs", import.meta.url));
const ISSUER = "http://auth.feed.bench";
const AUDIENCE = "https://api.feed.bench";
const RATE = num("BENCH_FEED_RATE", 1000);
const SECONDS = num("BENCH_FEED_SECONDS", 3);
const SUBSCRIBERS = Math.floor(num("BENCH_FEED_SUBSCRIBERS", 1000));
const WARMUP_SECONDS = 0.2;
/** How long the revoke requests may take to be answered, after the last is sent. */
const ANSWER_BOUND_MS = 30_000;
/** How long after the last revoke the subscribers may still receive events. */
const DRAIN_MS = 3000;
const FORM = "application/x-www-form-urlencoded";

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux); NaN elsewhere.
 * Fields 14 and 15 of /proc/PID/stat, in clock ticks (USER_HZ, 100 on Linux).
 */
function cpuMsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const cores = (cpuMs, seconds) =>
  Number.isFinite(cpuMs) ? `${(cpuMs / 1000 / seconds).toFixed(2)}` : "–";
const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

function cli(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      if (err) reject(new Error(`tessera ${args.join(" ")}: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** `tessera serve` with its stdout (the request log) in a file; resolves with its port. */
async function serve(root, base) {
  const logFile = join(root, "tessera.log");
  // BENCH_CPU_PROF=DIR: the server writes a CPU profile there when it exits.
  const prof =
    CPU_PROF_DIR === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`, "--cpu-prof-name=tessera-feed.cpuprofile"];
  const child = track(
    spawn(process.execPath, [...prof, CLI, "serve", "--port", "0", ...base], {
      stdio: ["ignore", openSync(logFile, "a"), "pipe"],
    }),
  );
  child.stderr.on("data", (c) => process.stderr.write(`[tessera] ${c}`));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`tessera serve exited (${child.exitCode})`);
    const m = /Tessera listening on http:\/\/[^:]+:(\d+)/.exec(readFileSync(logFile, "utf8"));
    if (m !== null) return { child, port: Number(m[1]) };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("tessera serve did not listen within 30 s");
}

function post(agent, port, path, authorization, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        method: "POST",
        path,
        agent,
        headers: {
          authorization,
          "content-type": FORM,
          "content-length": String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function issueTokens(agent, port, auth, n) {
  const tokens = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        const i = next++;
        const res = await post(agent, port, "/oauth/token", auth, "grant_type=client_credentials");
        if (res.status !== 200) throw new Error(`token endpoint: ${res.status} ${res.body}`);
        tokens[i] = JSON.parse(res.body).access_token;
      }
    }),
  );
  return tokens;
}

const jtiOf = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8")).jti;

/** Revokes `tokens` at RATE per second; the send time of each (ms), and the revoke answers. */
async function revokeAtRate(agent, port, auth, tokens) {
  const sentMs = new Array(tokens.length).fill(Number.NaN);
  const answeredMs = [];
  const pending = [];
  let failures = 0;
  const start = nowMs();
  let sent = 0;
  while (sent < tokens.length) {
    const due = Math.min(tokens.length, Math.floor(((nowMs() - start) / 1000) * RATE) + 1);
    for (; sent < due; sent++) {
      const i = sent;
      sentMs[i] = nowMs();
      pending.push(
        post(agent, port, "/oauth/revoke", auth, `token=${tokens[i]}`).then(
          (res) => {
            if (res.status !== 200) failures++;
            else answeredMs.push(nowMs() - sentMs[i]);
          },
          () => {
            failures++;
          },
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const sendSeconds = (nowMs() - start) / 1000;
  let bound;
  const unanswered = await Promise.race([
    Promise.all(pending).then(() => 0),
    new Promise((resolve) => {
      bound = setTimeout(
        () => resolve(tokens.length - answeredMs.length - failures),
        ANSWER_BOUND_MS,
      );
    }),
  ]);
  clearTimeout(bound);
  answeredMs.sort((a, b) => a - b);
  const at = (p) =>
    answeredMs[Math.min(answeredMs.length - 1, Math.ceil((p / 100) * answeredMs.length) - 1)];
  return {
    sentMs,
    failures,
    unanswered,
    rate: tokens.length / sendSeconds,
    revokeP50: at(50),
    revokeP99: at(99),
  };
}

/** One run: `count` subscribers, warm-up then SECONDS at RATE. */
async function fanOut(server, auth, count) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const warm = await issueTokens(agent, server.port, auth.svc, WARMUP_SECONDS * RATE);
  const tokens = await issueTokens(agent, server.port, auth.svc, SECONDS * RATE);
  const jtis = tokens.map(jtiOf);
  const child = track(
    fork(
      SUBSCRIBERS_SCRIPT,
      [JSON.stringify({ port: server.port, authorization: auth.rs, count, jtis })],
      {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        execArgv:
          CPU_PROF_DIR === undefined
            ? []
            : [
                "--cpu-prof",
                `--cpu-prof-dir=${CPU_PROF_DIR}`,
                `--cpu-prof-name=feed-subscribers-${count}.cpuprofile`,
              ],
      },
    ),
  );
  const errors = [];
  child.on("message", (message) => {
    if (message.type === "error" && errors.length < 5) errors.push(message.message);
  });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`subscribers not synced in 60 s: ${errors.join("; ")}`)),
      60_000,
    );
    child.on("message", (message) => {
      if (message.type === "ready") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  log(`${count} subscriber(s) synced; warm-up, then ${SECONDS} s at ${RATE}/s`);
  await revokeAtRate(agent, server.port, auth.svc, warm);
  log("warm-up done");
  // CPU used by each process from the first revoke of the run to the last one answered.
  const cpu0 = {
    server: cpuMsOf(server.child.pid),
    subscribers: cpuMsOf(child.pid),
    revoker: ownCpuMs(),
  };
  const t0 = nowMs();
  const run = await revokeAtRate(agent, server.port, auth.svc, tokens);
  const wallSeconds = (nowMs() - t0) / 1000;
  const cpu = {
    server: cores(cpuMsOf(server.child.pid) - cpu0.server, wallSeconds),
    subscribers: cores(cpuMsOf(child.pid) - cpu0.subscribers, wallSeconds),
    revoker: cores(ownCpuMs() - cpu0.revoker, wallSeconds),
  };
  log(
    `CPU (cores busy on average over ${wallSeconds.toFixed(1)} s): server ${cpu.server}, subscribers ${cpu.subscribers}, revoker ${cpu.revoker}`,
  );
  log(`${tokens.length} revoked (${run.rate.toFixed(0)}/s sent); draining ${DRAIN_MS} ms`);
  await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
  const report = await new Promise((resolve) => {
    child.on("message", (message) => {
      if (message.type === "report") resolve(message);
    });
    child.send({ cmd: "report", sentMs: run.sentMs });
  });
  await new Promise((resolve) => child.once("exit", resolve));
  agent.destroy();
  return {
    ...report,
    count,
    rate: run.rate,
    revokeFailures: run.failures,
    unanswered: run.unanswered,
    revokeP50: run.revokeP50,
    revokeP99: run.revokeP99,
    cpu,
    errors,
  };
}

async function main() {
  const record = startResults("feed", ["fastify", "better-sqlite3"]);
  const root = tempRoot("tessera-bench-feed-");
  const base = ["--data", join(root, "data"), "--issuer", ISSUER];
  const secretOf = (stdout) => /client_secret: (tsr_[\w-]{57})/.exec(stdout)?.[1];
  const add = (id, ...extra) =>
    cli([
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
  const svc = secretOf(await add("svc", "--init"));
  const rs = secretOf(await add("rs", "--introspect"));
  const server = await serve(root, base);
  const auth = { svc: basic("svc", svc), rs: basic("rs", rs) };
  const runs = [];
  for (const count of [1, SUBSCRIBERS]) {
    log(`feed fan-out: ${count} subscriber(s)…`);
    runs.push(await fanOut(server, auth, count));
  }
  server.child.kill("SIGTERM");
  // Its CPU profile (BENCH_CPU_PROF) is written as it exits.
  await new Promise((resolve) => {
    const bound = setTimeout(resolve, 10_000);
    server.child.once("exit", () => {
      clearTimeout(bound);
      resolve();
    });
  });

  const [floor, full] = runs;
  const met = (r) => r.missing === 0 && below(TARGETS.feedP99, r.p99);
  out("# Revocation feed: fan-out to many subscribers");
  out();
  out(
    `- one \`tessera serve\` (SQLite, default settings and log level) on ${os.availableParallelism()} CPUs; subscribers: real SSE connections from one separate process; revocations: POST /oauth/revoke of JWTs from this process at ${RATE}/s for ${SECONDS} s (after ${WARMUP_SECONDS} s of warm-up)`,
  );
  out(
    "- latency: from just before the revoke request is sent to the event's arrival at each subscriber (monotonic clock, same machine)",
  );
  out(
    "- CPU: the cores each process kept busy on average (user + system time from /proc over wall time) from the first revoke of the run to the last one answered",
  );
  out();
  out(
    table(
      [
        "subscribers",
        "revocations/s sent",
        "revoke request p50 / p99 ms",
        "deliveries",
        "missing",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "CPU cores: server / subscribers / revoker",
        "target",
        "verdict",
      ],
      runs.map((r) => [
        r.count.toLocaleString("en-US"),
        r.rate.toFixed(0),
        `${ms(r.revokeP50)} / ${ms(r.revokeP99)}`,
        (r.expected - r.missing).toLocaleString("en-US"),
        r.missing.toLocaleString("en-US"),
        ms(r.p50),
        ms(r.p90),
        ms(r.p99),
        ms(r.max),
        `${r.cpu.server} / ${r.cpu.subscribers} / ${r.cpu.revoker}`,
        r === full ? TARGETS.feedP99.text : "(floor)",
        r === full ? verdict(met(r)) : "–",
      ]),
    ),
  );
  out();
  for (const r of runs) {
    if (r.revokeFailures > 0 || r.unanswered > 0 || r.errors.length > 0 || r.closedEarly > 0) {
      out(
        `- ${r.count} subscriber(s): ${r.revokeFailures} revoke requests failed, ${r.unanswered} unanswered ${ANSWER_BOUND_MS / 1000} s after the last was sent; ${r.closedEarly} streams closed early; ${r.errors.join("; ")}`,
      );
    }
  }
  saveResults(record, [
    {
      id: "feed",
      title: `Revocation feed: ${SUBSCRIBERS.toLocaleString("en-US")} subscribers at ${RATE.toLocaleString("en-US")} revocations/s`,
      metric: "p99 ms",
      lowerIsBetter: true,
      rows: [
        {
          label: `Tessera, ${full.count.toLocaleString("en-US")} subscribers`,
          value: full.p99,
          tessera: true,
          p50Ms: full.p50,
          missing: full.missing,
          ratio: { value: full.p99 / floor.p99, vs: "1 subscriber (p99 over p99)" },
          target: TARGETS.feedP99.text,
          met: met(full),
        },
        {
          label: "Tessera, 1 subscriber (the floor)",
          value: floor.p99,
          tessera: true,
          p50Ms: floor.p50,
          missing: floor.missing,
        },
      ],
      checks: [
        {
          what: "deliveries that never arrived",
          measured: `${full.missing.toLocaleString("en-US")} of ${full.expected.toLocaleString("en-US")}`,
          target: "none",
          met: full.missing === 0,
        },
        {
          what: "the revoke request itself (POST /oauth/revoke → 200), p50 / p99",
          measured: `${ms(full.revokeP50)} / ${ms(full.revokeP99)} ms (1 subscriber: ${ms(floor.revokeP50)} / ${ms(floor.revokeP99)} ms)`,
          target: "(for scale: part of the delivery latency)",
          met: undefined,
        },
        {
          what: `revoke requests answered (within ${ANSWER_BOUND_MS / 1000} s of the last one sent)`,
          measured: `${(full.expected / full.count - full.unanswered - full.revokeFailures).toLocaleString("en-US")} of ${(full.expected / full.count).toLocaleString("en-US")}`,
          target: "all, with 200",
          met: full.unanswered === 0 && full.revokeFailures === 0,
        },
        {
          what: "revocations/s actually sent",
          measured: full.rate.toFixed(0),
          target: `${RATE}/s`,
          met: full.rate >= RATE * 0.95,
        },
      ],
      notes:
        "One `tessera serve` (SQLite, default settings and log level); subscribers as real SSE connections from a separate process; " +
        `POST /oauth/revoke at ${RATE}/s from the bench process; latency from just before each revoke is sent to the event's ` +
        "arrival at each subscriber (monotonic clock). Server, subscribers and the revoking process share the same cores.",
    },
  ]);
}

runBench(main, { hardLimitMs: 300_000 });
