/**
 * `npm run bench` (a step of it), or alone: `npm run build && node bench/bff.mjs`. The
 * BFF's proxy overhead: the same API call made directly (`Authorization: Bearer`) and
 * through the BFF (`GET /bff/api/api/orders` with the `__Host-bff` cookie and `X-CSRF: 1`),
 * in the same run, autocannon -c 16 from this process.
 *
 * Tessera, the API (tessera/guard verifying the JWT locally) and the BFF (memory store)
 * each run in a child process of their own (bench/bff-server.mjs). The BFF's session is
 * made by a real login (authorization code + PKCE) before the runs; its access token lives
 * 15 minutes, so no refresh happens during them. Knobs: BENCH_DURATION, BENCH_WARMUP,
 * BENCH_ROUNDS (runs per path, interleaved, median reported).
 *
 * Two floors, labelled as such (not Tessera), in the same run: a bare Fastify route that
 * proxies to the same API with a node:http keep-alive agent and nothing else (one HTTP hop
 * in, one out), and a bare Fastify route answering fixed JSON (one hop). For every path the
 * CPU time per request of each process is printed: the front server (the BFF or a floor),
 * the API, and this process (autocannon, the load generator), each from `process.cpuUsage`
 * over the measured run. BENCH_BFF_RATE=N sends every path N requests per second in all
 * (autocannon's overallRate) instead of as many as it can: the CPU per request of the
 * processes compared at the same throughput (a process woken for fewer requests at a time
 * spends more per request), not the headline ratio.
 */
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  aggregate,
  DURATION_S,
  load,
  log,
  median,
  ms,
  num,
  out,
  printFooter,
  printHeader,
  RESULT_COLUMNS,
  ratio,
  request,
  resultCells,
  runBench,
  startServer,
  table,
  tempRoot,
  WARMUP_S,
} from "./lib.mjs";
import { saveResults, startResults } from "./results.mjs";
import { atLeast, TARGETS } from "./targets.mjs";

const SERVER = fileURLToPath(new URL("./bff-server.mjs", import.meta.url));
const CONNECTIONS = 16;
const ROUNDS = num("BENCH_ROUNDS", 1);
const RATE = num("BENCH_BFF_RATE", 0);
const PASSWORD = "correct horse battery staple";
const int = (v) => Math.round(v).toLocaleString("en-US");

const cookieOf = (res, name) => {
  const all = [res.headers["set-cookie"] ?? []].flat();
  for (const c of all) {
    const m = new RegExp(`^${name}=([^;]+)`).exec(c);
    if (m) return m[1];
  }
  throw new Error(`no ${name} cookie`);
};

/** A real login through the BFF: its session cookie. */
async function bffLogin(tessera, bff) {
  const start = await request(bff.port, "GET", "/bff/login");
  const nonce = cookieOf(start, "__Host-bff-login");
  const location = new URL(start.headers.location);
  const login = await request(tessera.port, "POST", "/login", {
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "alice", password: PASSWORD }),
  });
  const session = cookieOf(login, "__Host-session");
  const authorized = await request(tessera.port, "GET", `${location.pathname}${location.search}`, {
    headers: { cookie: `__Host-session=${session}` },
  });
  const back = new URL(authorized.headers.location);
  const cb = await request(bff.port, "GET", `${back.pathname}${back.search}`, {
    headers: { cookie: `__Host-bff-login=${nonce}` },
  });
  if (cb.status !== 303) throw new Error(`callback: ${cb.status} ${cb.body}`);
  return cookieOf(cb, "__Host-bff");
}

/**
 * Warm-up, then the measured run with the CPU time (user + system, µs) per request answered
 * of every process in `servers` ({label: handle}) and of this one (the load generator).
 */
async function measurePath(base, servers) {
  await load({ ...base, duration: WARMUP_S });
  const handles = Object.entries(servers);
  await Promise.all(handles.map(([, s]) => s.cpuStart()));
  const own = process.cpuUsage();
  const result = await load({ ...base, duration: DURATION_S }, []);
  const ownUsed = process.cpuUsage(own);
  const used = await Promise.all(handles.map(([, s]) => s.cpuStop()));
  const perReq = (c) => (c.user + c.system) / result.total;
  const cpuOf = Object.fromEntries(handles.map(([label], i) => [label, perReq(used[i])]));
  cpuOf.loadgen = perReq(ownUsed);
  return { ...result, cpuUsPerReq: cpuOf.front, cpuOf };
}

async function main() {
  const started = performance.now();
  const record = startResults("bff", ["fastify", "jose", "autocannon"]);
  const load0 = printHeader({
    title: "Tessera benchmarks — the BFF's proxy overhead",
    npmCommand: "npm run bench` (step: `node bench/bff.mjs`)",
    loadGenerator: `, -c ${CONNECTIONS}, no pipelining; Tessera, the API and the BFF each in a child process`,
    versions: ["fastify", "jose"],
    measured: `, ${ROUNDS} round(s) per path, interleaved`,
  });
  const root = tempRoot("tessera-bench-bff-");
  const floors = [];
  const tessera = await startServer(SERVER, "tessera", { dataDir: root });
  const api = await startServer(SERVER, "api", { tesseraPort: tessera.port });
  const bff = await startServer(SERVER, "bff", {
    tesseraPort: tessera.port,
    apiPort: api.port,
    spaSecret: tessera.spaSecret,
  });
  try {
    const cookie = await bffLogin(tessera, bff);
    const basic = Buffer.from(`svc:${tessera.svcSecret}`).toString("base64");
    const tok = await request(tessera.port, "POST", "/oauth/token", {
      headers: {
        authorization: `Basic ${basic}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    const token = JSON.parse(tok.body).access_token;
    const floorProxy = await startServer(SERVER, "floor-proxy", { apiPort: api.port, token });
    floors.push(floorProxy);
    const floorJson = await startServer(SERVER, "floor-json", {});
    floors.push(floorJson);
    const paths = {
      direct: {
        server: api,
        url: `http://127.0.0.1:${api.port}/orders`,
        headers: { authorization: `Bearer ${token}` },
      },
      bff: {
        server: bff,
        url: `http://127.0.0.1:${bff.port}/bff/api/api/orders`,
        headers: { cookie: `__Host-bff=${cookie}`, "x-csrf": "1", "sec-fetch-site": "same-origin" },
        proxied: true,
      },
      floorProxy: {
        server: floorProxy,
        url: `http://127.0.0.1:${floorProxy.port}/p/orders`,
        headers: {},
        proxied: true,
      },
      floorJson: { server: floorJson, url: `http://127.0.0.1:${floorJson.port}/json`, headers: {} },
    };
    for (const p of Object.values(paths)) {
      const u = new URL(p.url);
      const res = await request(Number(u.port), "GET", u.pathname, { headers: p.headers });
      if (res.status !== 200) throw new Error(`${p.url}: ${res.status} ${res.body}`);
    }
    const results = { direct: [], bff: [], floorProxy: [], floorJson: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, p] of Object.entries(paths)) {
        log(`${name}, round ${round + 1}`);
        const servers = p.proxied ? { front: p.server, api } : { front: p.server };
        const r = await measurePath(
          {
            url: p.url,
            headers: p.headers,
            connections: CONNECTIONS,
            ...(RATE > 0 ? { overallRate: RATE } : {}),
          },
          servers,
        );
        results[name].push({ ...r, cpu: r.cpuUsPerReq });
      }
    }
    const direct = aggregate(results.direct);
    const viaBff = aggregate(results.bff);
    const cpuCells = (list) => {
      const m = (key) => median(list.map((r) => r.cpuOf[key] ?? 0));
      const front = m("front");
      const proxied = list[0].cpuOf.api !== undefined;
      const upstream = proxied ? m("api") : 0;
      const gen = m("loadgen");
      return [
        int(median(list.map((r) => r.rps))),
        int(front),
        proxied ? int(upstream) : "–",
        int(gen),
        int(front + upstream + gen),
      ];
    };
    out(
      table(
        ["path", ...RESULT_COLUMNS],
        [
          ["API directly (Bearer token)", ...resultCells(direct)],
          ["through the BFF (cookie → Bearer)", ...resultCells(viaBff)],
        ],
      ),
    );
    out();
    out(
      table(
        [
          "path",
          "req/s",
          "front server CPU µs/req",
          "API CPU µs/req",
          "load generator CPU µs/req",
          "sum µs/req",
        ],
        [
          ["API directly (front = the API)", ...cpuCells(results.direct)],
          ["through the BFF (front = the BFF)", ...cpuCells(results.bff)],
          [
            "floor, not Tessera: bare Fastify + node:http proxy to the API",
            ...cpuCells(results.floorProxy),
          ],
          ["floor, not Tessera: bare Fastify, fixed JSON", ...cpuCells(results.floorJson)],
        ],
      ),
    );
    out();
    out(
      `BFF overhead: p50 +${ms(viaBff.p50 - direct.p50)} ms, p99 +${ms(viaBff.p99 - direct.p99)} ms; ` +
        `throughput ${ratio(viaBff.rps / direct.rps)} of the direct call's ` +
        "(each proxied request: a session read (decrypted again only when it changed), the CSRF check, and one more HTTP hop on loopback: a request written and an answer read on a pooled connection; the floors above show what one hop in and one hop out cost without any of Tessera's work).",
    );
    out();
    const share = viaBff.rps / direct.rps;
    const proxyFloor = aggregate(results.floorProxy);
    const jsonFloor = aggregate(results.floorJson);
    const cpuSum = (list) => cpuCells(list)[4];
    saveResults(record, [
      {
        id: "bff",
        title: "BFF: an API call through the BFF vs calling the API directly",
        metric: "req/s",
        rows: [
          {
            label: "through the BFF (cookie → Bearer), tessera/bff",
            value: viaBff.rps,
            tessera: true,
            p99Ms: viaBff.p99,
            ratio: { value: share, vs: "the API directly" },
            target: TARGETS.bff.text,
            met: atLeast(TARGETS.bff, share),
          },
          {
            label: "the API directly (Bearer token, tessera/guard)",
            value: direct.rps,
            tessera: true,
            p99Ms: direct.p99,
          },
          {
            label: "floor, not Tessera: bare Fastify + node:http keep-alive proxy to the same API",
            value: proxyFloor.rps,
            p99Ms: proxyFloor.p99,
            ratio: { value: proxyFloor.rps / direct.rps, vs: "the API directly" },
          },
          {
            label: "floor, not Tessera: bare Fastify answering fixed JSON (one hop, no proxy)",
            value: jsonFloor.rps,
            p99Ms: jsonFloor.p99,
          },
        ],
        notes:
          `autocannon -c ${CONNECTIONS}; Tessera, the API and the BFF each in a child process; median of ${ROUNDS} round(s). ` +
          `Server CPU µs per request (front server + API + load generator): directly ${cpuSum(results.direct)}, ` +
          `through the BFF ${cpuSum(results.bff)}, through the bare proxy floor ${cpuSum(results.floorProxy)}. ` +
          "When the two cores are the limit, no proxy on this machine carries more than the floor row's share of the direct rate: " +
          "one hop in and one hop out on loopback are most of a proxied request's CPU.",
      },
    ]);
  } finally {
    for (const f of floors) await f.close();
    await bff.close();
    await api.close();
    await tessera.close();
  }
  printFooter(load0, started);
}

runBench(main, { hardLimitMs: 300_000 });
