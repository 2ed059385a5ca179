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
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  aggregate,
  CPU_PROF_DIR,
  DURATION_S,
  log,
  measureLoad,
  median,
  ms,
  num,
  out,
  printFooter,
  printHeader,
  RATIO_HEADER,
  RESULT_COLUMNS,
  ratio,
  ratioRow as ratioCells,
  request,
  resultCells,
  runBench,
  startServer as startChild,
  startRedis,
  stopRedis,
  table,
  tempRoot,
  verdict,
  WARMUP_S,
} from "./lib.mjs";
import { saveResults, startResults } from "./results.mjs";
import { atLeast, below, TARGETS } from "./targets.mjs";

const SERVER_SCRIPT = fileURLToPath(new URL("./oauth-server.mjs", import.meta.url));

const ROUNDS = Math.floor(num("BENCH_ROUNDS", 1));
const CONNECTIONS = 32;
/**
 * Measured scenarios per round (2 floor, 4 Tessera SQLite, 2 Tessera SQLite with request
 * logging off, 2 Tessera Redis, 4 oidc-provider).
 */
const SCENARIOS_PER_ROUND = 14;
/** The whole run is aborted (and cleaned up) past this. */
const HARD_LIMIT_MS = (60 + ROUNDS * SCENARIOS_PER_ROUND * (DURATION_S + WARMUP_S + 3)) * 1000;
/** Tessera's `--introspection-forged-limit` in this benchmark (the setting's maximum). */
const FORGED_LIMIT = 1_000_000;

const FORM = "application/x-www-form-urlencoded";

// ── Servers under test (child processes of bench/oauth-server.mjs) ──────────────────────

/** Server `kind` in a child process, named `label` (stderr, errors, CPU profile). */
const startServer = (kind, label, options) => startChild(SERVER_SCRIPT, kind, options, { label });

// ── HTTP client bits ────────────────────────────────────────────────────────────────────

/** RFC 6749 §2.3.1 client_secret_basic (ids and secrets here need no form-encoding). */
const basic = (client) =>
  `Basic ${Buffer.from(`${client.id}:${client.secret}`, "utf8").toString("base64")}`;

/** Checks one request by hand, then warm-up, then the measured run with server CPU. */
async function measure(server, path, headers, body, check) {
  const first = await request(server.port, "POST", path, {
    headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
    body,
  });
  check(first);
  // autocannon adds its own content-length; a second one would be a 400.
  return measureLoad(server, {
    url: `http://127.0.0.1:${server.port}${path}`,
    method: "POST",
    headers,
    body,
    connections: CONNECTIONS,
  });
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
    id: "tessera-sqlite-nolog",
    kind: "tessera",
    label: "Tessera, SQLite store, request logging off",
    redis: false,
    logLevel: "silent",
    scenarios: {
      "token-jwt": tokenScenario("jwt"),
      "introspect-active": introspectScenario(true),
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

/** The token and introspection paths for bench/report.mjs; `get(id, scenario)` an aggregate. */
function oauthSections(get) {
  const entry = (label, r, extra = {}) =>
    r === undefined ? undefined : { label, value: r.rps, p99Ms: r.p99, ...extra };
  const vs = (r, peer, peerLabel, target) => {
    const value = r === undefined || peer === undefined ? Number.NaN : r.rps / peer.rps;
    return target === undefined
      ? { ratio: { value, vs: peerLabel } }
      : { ratio: { value, vs: peerLabel }, target: target.text, met: atLeast(target, value) };
  };
  const oidcOpaque = get("oidc", "token-opaque");
  const oidcJwt = get("oidc", "token-jwt");
  const tesseraJwt = get("tessera-sqlite", "token-jwt");
  const nolog = get("tessera-sqlite-nolog", "token-jwt");
  const likeForLike = tesseraJwt && oidcJwt ? tesseraJwt.rps / oidcJwt.rps : Number.NaN;
  const token = {
    id: "token",
    title: "Token endpoint: client_credentials",
    metric: "req/s",
    rows: [
      entry("Tessera, SQLite store — JWT access token (EdDSA)", tesseraJwt, {
        tessera: true,
        ...vs(tesseraJwt, oidcOpaque, "oidc-provider (its default, opaque)", TARGETS.token),
      }),
      entry("Tessera, SQLite store — opaque access token", get("tessera-sqlite", "token-opaque"), {
        tessera: true,
        ...vs(get("tessera-sqlite", "token-opaque"), oidcOpaque, "oidc-provider opaque"),
      }),
      entry("Tessera, request logging off (not the default) — JWT", nolog, {
        tessera: true,
        ...vs(nolog, oidcOpaque, "oidc-provider (its default, opaque)"),
      }),
      entry("oidc-provider, in-memory — opaque token (its default)", oidcOpaque),
      entry("oidc-provider, in-memory — JWT (EdDSA) via a resource indicator", oidcJwt),
      entry("bare fastify + @fastify/formbody, fixed JSON (floor)", get("floor", "token-opaque")),
    ].filter((r) => r !== undefined),
    checks: [
      {
        what: "Tessera JWT / oidc-provider JWT (EdDSA), like for like",
        measured: ratio(likeForLike),
        target: TARGETS.token.text,
        met: atLeast(TARGETS.token, likeForLike),
      },
    ],
    notes:
      `autocannon -c ${CONNECTIONS}, each server alone in a child process; Tessera as shipped (default settings, request ` +
      "logging at info to a file) except `--signing-alg EdDSA` (like oidc-provider's JWTs); the row with logging off is labelled.",
  };
  const introspection = (active) => {
    const name = active ? "introspect-active" : "introspect-inactive";
    const oidc = get("oidc", name);
    const tesseraRows = [
      ["Tessera, SQLite store", get("tessera-sqlite", name), TARGETS.introspection],
      ["Tessera, `--redis`", get("tessera-redis", name), TARGETS.introspection],
      ...(active
        ? [
            [
              "Tessera, SQLite, request logging off (not the default)",
              get("tessera-sqlite-nolog", name),
            ],
          ]
        : []),
    ];
    return {
      id: `introspection-${active ? "active" : "inactive"}`,
      title: `Introspection (RFC 7662): ${active ? "an active opaque token" : "an inactive (random) token"}`,
      metric: "req/s",
      rows: [
        ...tesseraRows.map(([label, r, target]) =>
          entry(label, r, { tessera: true, ...vs(r, oidc, "oidc-provider", target) }),
        ),
        entry("oidc-provider, in-memory", oidc),
        ...(active
          ? [entry("bare fastify + @fastify/formbody, fixed JSON (floor)", get("floor", name))]
          : []),
      ].filter((r) => r !== undefined),
      checks: tesseraRows
        .filter(([, r, target]) => r !== undefined && target !== undefined)
        .map(([label, r]) => ({
          what: `${label}: p99 latency`,
          measured: `${ms(r.p99)} ms`,
          target: TARGETS.introspectionP99.text,
          met: below(TARGETS.introspectionP99, r.p99),
        })),
      notes: `autocannon -c ${CONNECTIONS}; Tessera with \`--introspection-forged-limit ${FORGED_LIMIT}\` (so the random tokens are never tarpitted), otherwise as shipped.`,
    };
  };
  return [token, introspection(true), introspection(false)];
}

// ── Main ────────────────────────────────────────────────────────────────────────────────

async function main() {
  const started = performance.now();
  const root = tempRoot("tessera-bench-oauth-");
  if (CPU_PROF_DIR) mkdirSync(CPU_PROF_DIR, { recursive: true });
  const record = startResults("oauth", [
    "oidc-provider",
    "koa",
    "jose",
    "fastify",
    "@fastify/formbody",
    "better-sqlite3",
    "ioredis",
    "autocannon",
  ]);
  const load0 = printHeader({
    title: "Tessera benchmarks — OAuth token endpoint and introspection",
    npmCommand: "npm run bench` (last step: `node bench/oauth.mjs`)",
    loadGenerator: `, -c ${CONNECTIONS}, no pipelining; every server under test in its own child process, one at a time`,
    versions: [
      "oidc-provider",
      "koa",
      "jose",
      "fastify",
      "@fastify/formbody",
      "better-sqlite3",
      "ioredis",
    ],
    measured: `, each after ${WARMUP_S} s of warm-up with the same request; ${ROUNDS} round(s) per server and scenario (median reported)`,
  });

  const redis = await startRedis(root);
  const redisUrl = redis.url;

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
      if (spec.logLevel !== undefined) options.logLevel = spec.logLevel;
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
  await stopRedis(redis);

  const get = (id, name) => {
    const list = runs.get(id)?.get(name);
    if (list === undefined || list.length === 0) return undefined;
    return { ...aggregate(list), sys: median(list.map((r) => r.sysUsPerReq)) };
  };
  const why = (id) => {
    const spec = SERVERS.find((s) => s.id === id);
    const reason =
      failures.get(id) ?? (spec?.redis ? `skipped: no Redis (${redis.note})` : "skipped");
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
    return [
      label,
      ...resultCells(r),
      `${r.cpu.toFixed(0)} (${(r.cpu - r.sys).toFixed(0)} + ${r.sys.toFixed(0)})`,
      floor === undefined ? "–" : ratio(r.rps / floor.rps),
      ...extra.map((f) => f(r)),
    ];
  };
  const ratioRow = (name, a, b, target) => ratioCells(name, get(...a), get(...b), target);
  const HEADER = ["server", ...RESULT_COLUMNS, "server CPU µs/req (user + sys)", "req/s vs floor"];

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
        "**Tessera**, SQLite store — JWT access token (EdDSA, as oidc-provider's)",
        "tessera-sqlite",
        "token-jwt",
        "token-opaque",
      ),
      row(
        "Tessera, SQLite store, request logging off (`--log-level silent`, not the default) — JWT (info)",
        "tessera-sqlite-nolog",
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
        TARGETS.token.min,
      ),
      ratioRow(
        "Tessera JWT / oidc-provider JWT (EdDSA) — like for like",
        ["tessera-sqlite", "token-jwt"],
        ["oidc", "token-jwt"],
        TARGETS.token.min,
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
  const p99Check = (r) => `${verdict(below(TARGETS.introspectionP99, r.p99))} (${ms(r.p99)} ms)`;
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
        [
          "Tessera, SQLite store, request logging off (not the default) — active token",
          "tessera-sqlite-nolog",
          "introspect-active",
          "info",
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
    `¹ Tessera runs with \`--introspection-forged-limit ${FORGED_LIMIT}\` (the setting's maximum; the default is 60 ` +
      "forged tokens per client per minute, past which a fishing client is tarpitted), so the random tokens are never " +
      "tarpitted here; each is still counted (in process), as it would be in production.",
  );
  out();
  out(
    table(RATIO_HEADER, [
      ratioRow(
        "Tessera (SQLite) / oidc-provider — active",
        ["tessera-sqlite", "introspect-active"],
        ["oidc", "introspect-active"],
        TARGETS.introspection.min,
      ),
      ratioRow(
        "Tessera (SQLite) / oidc-provider — inactive",
        ["tessera-sqlite", "introspect-inactive"],
        ["oidc", "introspect-inactive"],
        TARGETS.introspection.min,
      ),
      ratioRow(
        "Tessera `--redis` / oidc-provider — active",
        ["tessera-redis", "introspect-active"],
        ["oidc", "introspect-active"],
        TARGETS.introspection.min,
      ),
      ratioRow(
        "Tessera `--redis` / oidc-provider — inactive",
        ["tessera-redis", "introspect-inactive"],
        ["oidc", "introspect-inactive"],
        TARGETS.introspection.min,
      ),
    ]),
  );
  out();
  out(
    "Notes, per request. The introspecting client `rs` asks about an opaque access token of the client `svc` " +
      "(issued through the token endpoint just before the run), or about one random 43-character base64url string. " +
      "**Tessera**: form parse, client authentication (the client from the in-process cache + SHA-256), the " +
      "`introspect` permission, then for the active token its tag (one HMAC), SHA-256 and the opaque-token record " +
      "from the in-process cache (evicted by every revocation; a miss reads SQLite, or Redis with `--redis`), and " +
      "the token's client from the cache; the random string is not a Tessera token (no tag), so it costs a JWT parse attempt and " +
      "an in-process count, and no store lookup at all. With `--redis`, clients and refresh " +
      "tokens stay in SQLite; the Redis CPU is not in the server CPU column. **oidc-provider**: body parse, client " +
      "authentication, a structured-token (JWT) check, a lookup in its in-memory LRU (for an unknown token, " +
      "one per token kind), the default `allowedPolicy` (any confidential client may introspect), then the RFC 7662 " +
      "response. oidc-provider cannot introspect its JWT access tokens (it refuses structured tokens), hence opaque " +
      "tokens for both servers here.",
  );
  out();
  saveResults(record, oauthSections(get));
  printFooter(
    load0,
    started,
    CPU_PROF_DIR
      ? [
          `CPU profiles of the servers are in \`${CPU_PROF_DIR}\` (\`node bench/cpuprofile-top.mjs ${CPU_PROF_DIR}/*.cpuprofile\`).`,
        ]
      : [],
  );
}

runBench(main, { hardLimitMs: HARD_LIMIT_MS });
