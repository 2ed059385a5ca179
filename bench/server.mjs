/**
 * One server under test, run as a child process of bench/run.mjs (so the load generator
 * in the parent does not share an event loop with it). Usage, via `fork` with IPC:
 *
 *   node bench/server.mjs KIND '{"redisUrl": "...", "dataDir": "..."}'
 *
 * KIND: tessera-sqlite | tessera-redis | fastify | http | express-memory | express-redis.
 *
 * Every kind listens on 127.0.0.1, port 0, and sends `{ type: "ready", port }` to the
 * parent. Every kind answers `POST /login` (sets a session cookie) and `GET /session`
 * (200 with a small JSON body; the session kinds check the cookie first, the bare kinds
 * answer a fixed body of the same shape). Parent messages:
 * - `{ cmd: "eld-start" }` / `{ cmd: "eld-stop" }`: event-loop delay of this process
 *   (perf_hooks.monitorEventLoopDelay), reported back as `{ type: "eld", ... }` in ms.
 * - `{ cmd: "cpu-start" }` / `{ cmd: "cpu-stop" }`: CPU time (user, system; µs) this process
 *   used in between (`process.cpuUsage`), reported back as `{ type: "cpu", ... }`.
 * - `{ cmd: "close" }`: close everything and exit 0 (so `--cpu-prof` gets written).
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { monitorEventLoopDelay } from "node:perf_hooks";

const kind = process.argv[2];
const options = JSON.parse(process.argv[3] ?? "{}");

const BENCH_USER = "bench-user";
/** Only the benchmark knows it; not on any common-password list. */
const BENCH_PASSWORD = options.password ?? `Bench-${randomBytes(12).toString("base64url")}`;

/** What the bare routes answer: the same shape and size as Tessera's GET /session. */
const FIXED_SESSION = {
  user: { id: "Qm9vbXNoYWthbGFrYWJvb20", username: BENCH_USER, roles: [] },
  session: {
    id: "c2Vzc2lvbi1wdWJsaWMtaWQ",
    createdAt: "2026-01-01T00:00:00.000Z",
    lastSeenAt: "2026-01-01T00:00:00.000Z",
    expiresAt: "2026-01-01T12:00:00.000Z",
    idleExpiresAt: "2026-01-01T00:30:00.000Z",
  },
};

/** Idle lifetime given to the express-session peers (Tessera's default idle timeout). */
const IDLE_MS = 30 * 60 * 1000;

function send(message) {
  if (process.send) process.send(message);
}

async function startTessera(useRedis) {
  const { Tessera, buildServer, loadConfig } = await import("../dist/index.js");
  const flags = {
    data: options.dataDir,
    logLevel: "silent",
    // Throttling must not interfere with a login benchmark.
    loginAccountLimit: "10000",
    loginIpLimit: "1000000",
  };
  if (useRedis) flags.redis = options.redisUrl;
  const config = loadConfig(flags, {});
  const tessera = await Tessera.open({ config });
  await tessera.hasher.warmUp();
  await tessera.users.create({ username: BENCH_USER, password: BENCH_PASSWORD });
  const app = await buildServer(tessera);
  await app.listen({ port: 0, host: "127.0.0.1" });
  return {
    port: app.server.address().port,
    close: async () => {
      await app.close();
      await tessera.close();
    },
  };
}

async function startFastify() {
  const { default: Fastify } = await import("fastify");
  const app = Fastify({ logger: false });
  app.post("/login", async (_request, reply) => {
    reply.header("set-cookie", "sid=bare; Path=/; HttpOnly");
    return { user: FIXED_SESSION.user };
  });
  app.get("/session", async () => FIXED_SESSION);
  await app.listen({ port: 0, host: "127.0.0.1" });
  return { port: app.server.address().port, close: () => app.close() };
}

async function startHttp() {
  const server = createServer((req, res) => {
    const body = JSON.stringify(
      req.url === "/session" ? FIXED_SESSION : { user: FIXED_SESSION.user },
    );
    const headers = {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
    };
    if (req.method === "POST") headers["set-cookie"] = "sid=bare; Path=/; HttpOnly";
    res.writeHead(200, headers);
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: server.address().port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function startExpress(useRedis) {
  const { default: express } = await import("express");
  const { default: session } = await import("express-session");
  let store;
  let redisClient;
  if (useRedis) {
    const { createClient } = await import("redis");
    const { RedisStore } = await import("connect-redis");
    redisClient = createClient({ url: options.redisUrl });
    redisClient.on("error", (err) => process.stderr.write(`[express-redis] ${err}\n`));
    await redisClient.connect();
    store = new RedisStore({ client: redisClient, prefix: "sess:", ttl: IDLE_MS / 1000 });
  }
  const app = express();
  app.use(
    session({
      ...(store ? { store } : {}),
      secret: randomBytes(32).toString("base64url"),
      resave: false,
      saveUninitialized: false,
      // secure: false only because the benchmark speaks plain HTTP on loopback.
      cookie: { httpOnly: true, sameSite: "strict", secure: false, maxAge: IDLE_MS },
    }),
  );
  app.post("/login", (req, res) => {
    req.session.user = { ...FIXED_SESSION.user };
    req.session.createdAt = Date.now();
    res.json({ user: req.session.user });
  });
  app.get("/session", (req, res) => {
    if (req.session.user === undefined) {
      res.status(401).json({ error: "unauthenticated" });
      return;
    }
    res.json({
      user: req.session.user,
      session: {
        id: req.sessionID.slice(0, 22),
        createdAt: new Date(req.session.createdAt).toISOString(),
        expiresAt: req.session.cookie.expires?.toISOString() ?? null,
      },
    });
  });
  const server = await new Promise((resolve) => {
    const s = app.listen(0, "127.0.0.1", () => resolve(s));
  });
  return {
    port: server.address().port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      if (redisClient) await redisClient.quit();
    },
  };
}

const STARTERS = {
  "tessera-sqlite": () => startTessera(false),
  "tessera-redis": () => startTessera(true),
  fastify: startFastify,
  http: startHttp,
  "express-memory": () => startExpress(false),
  "express-redis": () => startExpress(true),
};

async function main() {
  const start = STARTERS[kind];
  if (start === undefined) throw new Error(`unknown server kind ${kind}`);
  const server = await start();
  let eld;
  let cpu;
  let closing = false;
  process.on("message", async (message) => {
    if (message.cmd === "eld-start") {
      eld = monitorEventLoopDelay({ resolution: 10 });
      eld.enable();
      send({ type: "eld-started" });
    } else if (message.cmd === "eld-stop" && eld !== undefined) {
      eld.disable();
      const ms = (ns) => ns / 1e6;
      send({
        type: "eld",
        p50: ms(eld.percentile(50)),
        p99: ms(eld.percentile(99)),
        max: ms(eld.max),
        mean: ms(eld.mean),
        count: eld.count,
      });
      eld = undefined;
    } else if (message.cmd === "cpu-start") {
      cpu = process.cpuUsage();
      send({ type: "cpu-started" });
    } else if (message.cmd === "cpu-stop" && cpu !== undefined) {
      const used = process.cpuUsage(cpu);
      send({ type: "cpu", user: used.user, system: used.system });
      cpu = undefined;
    } else if (message.cmd === "close" && !closing) {
      closing = true;
      try {
        await server.close();
      } finally {
        process.exit(0);
      }
    }
  });
  // The parent went away without saying goodbye: do not linger.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", port: server.port, password: BENCH_PASSWORD, username: BENCH_USER });
}

main().catch((err) => {
  send({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
