/**
 * `npm run soak -- --minutes N [--interval S] [--publish] [--sqlite]` (builds first), or
 * `node soak/run.mjs ...` after `npm run build`. Never part of `npm test`.
 *
 * A long run against two real `tessera serve` processes (dist/cli/main.js) on one store
 * several instances can share: PostgreSQL (its own, initdb into a temp dir on a free
 * loopback port, as bench/instances.mjs does) — or, where PostgreSQL is not installed (or
 * with --sqlite), one SQLite file both processes open (the README's "several instances
 * on one machine"), said so on stderr and in the report. Short lifetimes (access tokens
 * 60 s, sessions idle 180 s / absolute 600 s, refresh tokens idle 300 s, sweeps every
 * 15 s) so that expiry and the janitor really happen during the run.
 *
 * A paced mixed workload (soak/workload.mjs) runs from this process; every S seconds
 * (default: the run's length / 180, at least 5) each server is sampled: RSS and open file
 * descriptors from /proc/<pid>, heap, event-loop delay and active resources from its
 * GET /metrics. After the run: the workload stops, the run waits two sweep intervals, and
 * the store's row counts are compared with the objects the workload's model says are
 * live. The report — soak-results/<date>/report.md with one SVG per metric beside it
 * (git-ignored) — has a table over time, growth per hour by linear regression over the
 * second half, the outcomes (any 5xx is a finding) and the row counts; --publish copies
 * it to docs/soak.md (plots in docs/soak/).
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { log, runBench, tempRoot, track } from "../bench/lib.mjs";
import { startPostgres } from "../bench/postgres.mjs";
import { closeAgent, request } from "./http.mjs";
import { growthPerHour, METRICS, svgPlot, table } from "./report.mjs";
import { countPostgres, countSqlite } from "./store-counts.mjs";
import { REDIRECT, Workload } from "./workload.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");
const ISSUER = "https://auth.soak.test";
const SECRET = "soak-secret-shared-by-both-instances-0123456789";
const API = "https://api.soak.test";
const USERS = ["alice", "bob", "carol", "dave"].map((name) => ({
  name,
  password: `Soak-${name}-Harbour-Quartz-Meadow-41`,
}));
const LIFETIMES = { sessionIdle: 180, sessionAbsolute: 600, refreshIdle: 300 };
const SWEEP_S = 15;
const SERVE_FLAGS = [
  ["--access-token-ttl", "60"],
  ["--access-token-max-ttl", "120"],
  ["--id-token-ttl", "60"],
  ["--session-idle-timeout", String(LIFETIMES.sessionIdle)],
  ["--session-absolute-timeout", String(LIFETIMES.sessionAbsolute)],
  // Every session check writes last-seen, so the idle deadline is exact (the model's).
  ["--session-touch-interval", "0"],
  ["--refresh-token-ttl", "3600"],
  ["--refresh-token-idle-ttl", String(LIFETIMES.refreshIdle)],
  ["--sweep-interval", String(SWEEP_S)],
  ["--events-heartbeat", "15"],
  ["--log-level", "warn"],
].flat();

function parseArgs(argv) {
  const opts = { minutes: 3, interval: undefined, publish: false, sqlite: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--minutes") opts.minutes = Number(argv[++i]);
    else if (a === "--interval") opts.interval = Number(argv[++i]);
    else if (a === "--publish") opts.publish = true;
    else if (a === "--sqlite") opts.sqlite = true;
    else throw new Error(`unknown argument ${a} (--minutes N, --interval S, --publish, --sqlite)`);
  }
  if (!(opts.minutes > 0)) throw new Error("--minutes takes a positive number");
  opts.interval ??= Math.max(5, Math.round((opts.minutes * 60) / 180));
  if (!(opts.interval >= 1)) throw new Error("--interval takes seconds, at least 1");
  return opts;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ── The installation and its two instances ──────────────────────────────────────────────

function cli(args, env, input) {
  return execFileSync(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    input: input ?? "",
    stdio: ["pipe", "pipe", "pipe"],
  }).toString();
}

function clientAuth(id, stdout) {
  const secret = /client_secret: (tsr_[\w-]{57})/.exec(stdout)?.[1];
  if (secret === undefined) throw new Error(`no client secret in: ${stdout}`);
  return `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
}

function setUp(env, data) {
  const admin = (args, input) => cli([...args, "--data", data], env, input);
  USERS.forEach((u, i) => {
    admin(["user", "add", u.name, "--password-stdin", ...(i === 0 ? ["--init"] : [])], u.password);
  });
  const cc = ["--grants", "client_credentials", "--audience", API];
  return {
    svc: clientAuth("svc", admin(["client", "add", "svc", ...cc])),
    opq: clientAuth("opq", admin(["client", "add", "opq", ...cc, "--token-format", "opaque"])),
    rs: clientAuth("rs", admin(["client", "add", "rs", ...cc, "--introspect"])),
    app: clientAuth(
      "app",
      admin([
        "client",
        "add",
        "app",
        "--grants",
        "authorization_code,refresh_token",
        "--audience",
        API,
        "--scopes",
        "read write",
        "--redirect-uri",
        REDIRECT,
        "--first-party",
      ]),
    ),
  };
}

/** `tessera serve --port 0 ...`; resolves to `{ port, pid, child, label }` once it listens. */
function serve(args, env, label) {
  const child = track(
    spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const stderrTail = [];
  child.stderr.on("data", (c) => {
    process.stderr.write(`[${label}] ${c}`);
    stderrTail.push(c.toString("utf8"));
    if (stderrTail.length > 50) stderrTail.shift();
  });
  return new Promise((resolve, reject) => {
    let text = "";
    let listening = false;
    const timer = setTimeout(() => reject(new Error(`${label} did not listen in 60 s`)), 60_000);
    // Read to the end (warnings included), kept only until it listens.
    child.stdout.on("data", (c) => {
      if (listening) {
        if (/"level":(40|50|60)|WARN|ERROR|FATAL/.test(c.toString("utf8"))) {
          process.stderr.write(`[${label}] ${c}`);
        }
        return;
      }
      text += c.toString("utf8");
      const m = /Tessera listening on http:\/\/[^:]+:(\d+)/.exec(text);
      if (m !== null) {
        listening = true;
        clearTimeout(timer);
        resolve({ port: Number(m[1]), pid: child.pid, child, label, stderrTail });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code}): ${text}`));
    });
  });
}

async function stopInstance({ child }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

// ── Sampling ────────────────────────────────────────────────────────────────────────────

function procStatus(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    return { rss: kb * 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return { rss: Number.NaN, fds: Number.NaN };
  }
}

function metricValue(text, name) {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

async function sample(instance, t0) {
  const t = (Date.now() - t0) / 1000;
  const proc = procStatus(instance.pid);
  let text = "";
  try {
    const res = await request(instance.port, "GET", "/metrics");
    if (res.status === 200) text = res.body;
  } catch {
    // the row then shows what /proc says only
  }
  const resources = {};
  for (const m of text.matchAll(/^tessera_process_active_resources\{type="([^"]+)"\} (\d+)$/gm)) {
    resources[m[1]] = Number(m[2]);
  }
  return {
    t,
    rss: proc.rss,
    fds: proc.fds,
    heapUsed: metricValue(text, 'tessera_process_heap_bytes{kind="used"}'),
    heapTotal: metricValue(text, 'tessera_process_heap_bytes{kind="total"}'),
    eldP99: metricValue(text, 'tessera_process_event_loop_delay_seconds{quantile="0.99"}'),
    handles: metricValue(text, "tessera_process_active_resources_total"),
    feedStreams: metricValue(text, "tessera_revocation_feed_streams"),
    resources,
    load1: os.loadavg()[0],
  };
}

// ── The report ──────────────────────────────────────────────────────────────────────────

const mib = (b) => (b / 2 ** 20).toFixed(1);
const num = (v, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : "–");
const signed = (v, d) => (Number.isFinite(v) ? `${v >= 0 ? "+" : ""}${v.toFixed(d)}` : "–");

function timeTable(instances, samples) {
  const n = samples[0].length;
  const every = Math.max(1, Math.ceil(n / 24));
  const rows = [];
  for (let i = 0; i < n; i++) {
    if (i % every !== 0 && i !== n - 1) continue;
    const cells = [num(samples[0][i].t / 60, 1), num(samples[0][i].load1, 2)];
    instances.forEach((_, k) => {
      const s = samples[k][i];
      cells.push(
        mib(s.rss),
        `${mib(s.heapUsed)} / ${mib(s.heapTotal)}`,
        num(s.eldP99 * 1000, 1),
        num(s.handles),
        num(s.fds),
        num(s.feedStreams),
      );
    });
    rows.push(cells);
  }
  const header = ["min", "load 1m"];
  for (const inst of instances) {
    const l = inst.label;
    header.push(
      `${l} RSS MiB`,
      `${l} heap used / total MiB`,
      `${l} ELD p99 ms`,
      `${l} handles`,
      `${l} fds`,
      `${l} feed streams`,
    );
  }
  return table(header, rows);
}

function growthTable(instances, samples) {
  const rows = [];
  for (const m of METRICS) {
    const cells = [m.title + (m.unit ? ` (${m.unit})` : "")];
    instances.forEach((_, k) => {
      const g = growthPerHour(samples[k], m.key, m.scale);
      const d = m.unit === "" ? 1 : 2;
      cells.push(`${signed(g.perHour, d)} /h (mean ${num(g.mean, d)})`);
    });
    rows.push(cells);
  }
  return table(["metric", ...instances.map((i) => `${i.label}: growth per hour`)], rows);
}

function resourcesTable(instances, samples) {
  const types = new Set();
  for (const list of samples) for (const s of list) for (const k in s.resources) types.add(k);
  const rows = [...types].sort().map((type) => {
    const cells = [type];
    instances.forEach((_, k) => {
      const list = samples[k];
      const first = list.find((s) => s.t >= list[list.length - 1].t / 2) ?? list[0];
      const last = list[list.length - 1];
      cells.push(`${first.resources[type] ?? 0} → ${last.resources[type] ?? 0}`);
    });
    return cells;
  });
  return table(
    ["resource type", ...instances.map((i) => `${i.label}: at half-time → at the end`)],
    rows,
  );
}

function outcomesTable(workload) {
  const rows = [...workload.outcomes]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, n]) => {
      const i = key.indexOf(" ");
      return [key.slice(0, i), key.slice(i + 1), String(n)];
    });
  return table(["action", "answer", "count"], rows);
}

function countsTable(rows, expected) {
  const expect = (label) => {
    if (label === "records: session") return String(expected.sessions);
    if (label === "records: access_token") return String(expected.opaque);
    if (label === "refresh families")
      return `${expected.families} (not revoked, used within the idle TTL)`;
    return "";
  };
  return table(
    [
      "rows",
      "in the store",
      "expired, not yet swept",
      `of them expired over ${SWEEP_S + 5} s ago (a sweep missed them)`,
      "revoked",
      "live by the workload's model",
    ],
    rows.map((r) => [
      r.label,
      String(r.total),
      String(r.expired),
      String(r.overdue),
      r.revoked === undefined ? "" : String(r.revoked),
      expect(r.label),
    ]),
  );
}

function report(ctx) {
  const { opts, store, instances, samples, workload, counts, expected, load0, load1, started } =
    ctx;
  const lines = [];
  const out = (s = "") => lines.push(s);
  const findings = workload.findingCount;
  out("# Soak run: two instances, a mixed workload, memory and handles over time");
  out();
  out(
    `- command: \`npm run soak -- --minutes ${opts.minutes}${opts.publish ? " --publish" : ""}${opts.sqlite ? " --sqlite" : ""}\` (sampled every ${opts.interval} s)`,
  );
  out(`- date ${started.toISOString()}, ${opts.minutes} minutes of workload`);
  out(
    `- Node ${process.version}, ${os.platform()} ${os.arch()}, ${os.availableParallelism()} CPUs (${os.cpus()[0]?.model.trim() ?? "?"}), shared with other people's work during the run`,
  );
  out(
    `- load average (1/5/15 min) at start ${load0.map((v) => v.toFixed(2)).join(" / ")}, at end ${load1.map((v) => v.toFixed(2)).join(" / ")}`,
  );
  out(`- store: ${store.description}`);
  out(`- two \`tessera serve\` processes: \`${SERVE_FLAGS.join(" ")}\``);
  out(
    "- workload (this process, paced, not a flood): 3 workers, one action at a time each with 150–400 ms between, on the instances in turn: logins (4 users), session checks, client_credentials tokens (JWT and opaque), authorization code + PKCE and refresh rotation, introspection of live and random tokens, revocation (opaque and refresh tokens), logout and log out everywhere; revocation-feed subscribers (up to 3 per instance) connecting and hanging up every 2–6 s",
  );
  out();
  out("## Verdict");
  out();
  const growth = (k, key, scale) => growthPerHour(samples[k], key, scale).perHour;
  instances.forEach((inst, k) => {
    out(
      `- ${inst.label}: RSS ${signed(growth(k, "rss", 1 / 2 ** 20), 1)} MiB/h, heap used ${signed(growth(k, "heapUsed", 1 / 2 ** 20), 1)} MiB/h, handles ${signed(growth(k, "handles", 1), 1)} /h, fds ${signed(growth(k, "fds", 1), 1)} /h (second half, least squares)`,
    );
  });
  out(
    `- ${findings === 0 ? "no 5xx and no network error" : `**${findings} findings** (5xx or network errors; below)`} in ${[...workload.outcomes.values()].reduce((a, b) => a + b, 0)} answers; ${workload.surprises.size === 0 ? "every answer as the workload's model expected" : `answers the model did not expect: ${[...workload.surprises].map(([k, n]) => `${k} × ${n}`).join(", ")}`}`,
  );
  out();
  out("## Growth per hour (linear regression over the second half of the run)");
  out();
  out(growthTable(instances, samples));
  out();
  for (const m of METRICS) out(`![${m.title}](${m.key}.svg)`);
  out();
  out("## Over time");
  out();
  out(timeTable(instances, samples));
  out();
  out("## Active libuv resources by type");
  out();
  out(resourcesTable(instances, samples));
  out();
  out("## Store rows after the run");
  out();
  out(
    `Counted ${ctx.settleS} s after the workload stopped (two sweep intervals of ${SWEEP_S} s and a margin). "Expired" are rows past their expiry still present: what the janitor has not swept yet — those that expired within the last sweep interval may simply not have met a sweep; those that expired longer ago should be none. The model's live objects are what the workload created minus what it saw end (logout, log out everywhere, revocation) and what its lifetime ended (idle and absolute timeouts, expiry).`,
  );
  out();
  out(countsTable(counts, expected));
  out();
  out("## Outcomes");
  out();
  out(outcomesTable(workload));
  out();
  out(
    `Revocation feed: ${workload.feed.connects} connects (${workload.feed.refused} refused with 503, ${workload.feed.errors} failed), ${workload.feed.events} events read.`,
  );
  if (workload.findings.length > 0) {
    out();
    out("Findings (first 30):");
    out();
    for (const f of workload.findings) out(`- ${f.at} ${f.action}: ${f.what}`);
  }
  out();
  return `${lines.join("\n")}\n`;
}

// ── Main ────────────────────────────────────────────────────────────────────────────────

async function openStore(opts, root) {
  const data = join(root, "cli");
  mkdirSync(data, { recursive: true });
  const base = { TESSERA_SECRET: SECRET, TESSERA_ISSUER: ISSUER };
  const pg = opts.sqlite ? { note: "--sqlite given" } : await startPostgres();
  if (pg.url !== undefined) {
    const schema = "soak";
    return {
      env: { ...base, TESSERA_DB: pg.url, TESSERA_DB_SCHEMA: schema },
      data,
      // Each instance its own data directory, as on two machines.
      instanceData: (i) => {
        const d = join(root, `i${i}`);
        mkdirSync(d, { recursive: true });
        return d;
      },
      description: `PostgreSQL alone (${pg.version}, loopback, default durability), shared by both instances; sessions, opaque tokens and the revocation log in PostgreSQL, swept by its janitor`,
      count: (now, graceMs) => countPostgres(pg.url, schema, now, graceMs),
    };
  }
  const why = `PostgreSQL not used (${pg.note})`;
  log(`${why}: both instances on one SQLite file instead (several instances on one machine)`);
  return {
    env: base,
    data,
    instanceData: () => data,
    description: `SQLite — ${why}: both instances open one SQLite file (--data), the README's "several instances on one machine"`,
    count: (now, graceMs) => countSqlite(join(data, "tessera.db"), now, graceMs),
  };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = new Date();
  const root = tempRoot("tessera-soak-");
  const load0 = os.loadavg();
  const store = await openStore(opts, root);
  log("installation: users and clients");
  const auth = setUp(store.env, store.data);
  const instances = [];
  for (let i = 0; i < 2; i++) {
    instances.push(
      await serve(["--data", store.instanceData(i), ...SERVE_FLAGS], store.env, `#${i + 1}`),
    );
  }
  log(`instances on ports ${instances.map((i) => i.port).join(", ")}`);
  const workload = new Workload({
    ports: instances.map((i) => i.port),
    users: USERS,
    auth,
    lifetimes: LIFETIMES,
  });
  const t0 = Date.now();
  const samples = instances.map(() => []);
  const takeSamples = async () => {
    const rows = await Promise.all(instances.map((inst) => sample(inst, t0)));
    rows.forEach((r, k) => {
      samples[k].push(r);
    });
    const [a] = rows;
    log(
      `${num(a.t / 60, 1)} min: ${rows.map((r, k) => `${instances[k].label} rss ${mib(r.rss)} heap ${mib(r.heapUsed)} handles ${r.handles} fds ${r.fds}`).join(" | ")}; answers ${[...workload.outcomes.values()].reduce((x, y) => x + y, 0)}, findings ${workload.findingCount}`,
    );
  };
  await takeSamples();
  const running = workload.run();
  const endAt = t0 + opts.minutes * 60_000;
  while (Date.now() < endAt) {
    await sleep(Math.min(opts.interval * 1000, endAt - Date.now()));
    await takeSamples();
  }
  await workload.stop();
  await running;
  const settleS = 2 * SWEEP_S + 5;
  log(`workload stopped; waiting ${settleS} s for the janitor`);
  await sleep(settleS * 1000);
  const now = Date.now();
  const counts = await store.count(now, (SWEEP_S + 5) * 1000);
  const expected = workload.expected(now);
  for (const inst of instances) {
    if (inst.child.exitCode !== null) workload.finding("server", inst.port, `${inst.label} exited`);
  }
  await Promise.all(instances.map(stopInstance));
  closeAgent();
  const load1 = os.loadavg();
  const dir = join(ROOT, "soak-results", started.toISOString().replace(/[:.]/g, "-"));
  mkdirSync(dir, { recursive: true });
  const text = report({
    opts,
    store,
    instances,
    samples,
    workload,
    counts,
    expected,
    load0,
    load1,
    started,
    settleS,
  });
  writeFileSync(join(dir, "report.md"), text);
  for (const m of METRICS) {
    const series = instances.map((inst, k) => ({
      label: `instance ${inst.label}`,
      points: samples[k].map((s) => [s.t, s[m.key] * m.scale]),
    }));
    writeFileSync(join(dir, `${m.key}.svg`), svgPlot({ title: m.title, unit: m.unit, series }));
  }
  log(`report: ${join(dir, "report.md")}`);
  if (opts.publish) {
    const docs = join(ROOT, "docs");
    mkdirSync(join(docs, "soak"), { recursive: true });
    writeFileSync(join(docs, "soak.md"), text.replace(/\]\((\w+)\.svg\)/g, "](soak/$1.svg)"));
    for (const m of METRICS)
      copyFileSync(join(dir, `${m.key}.svg`), join(docs, "soak", `${m.key}.svg`));
    log("published: docs/soak.md, docs/soak/*.svg");
  }
  process.stdout.write(text);
}

const minutes = Number(process.argv[process.argv.indexOf("--minutes") + 1]) || 3;
runBench(main, { hardLimitMs: (minutes + 10) * 60_000 });
