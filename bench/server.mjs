/**
 * One server under test, run as a child process of bench/run.mjs (so the load generator
 * in the parent does not share an event loop with it). Usage, via `fork` with IPC:
 *
 *   node bench/server.mjs KIND '{"redisUrl": "...", "dataDir": "..."}'
 *
 * KIND: tessera-sqlite | tessera-redis | fastify | http | express-memory | express-redis.
 *
 * Every kind listens on 127.0.0.1, port 0, and sends `{ type: "ready", port, username,
 * password }` to the parent. Every kind answers `POST /login` (sets a session cookie) and
 * `GET /session` (200 with a small JSON body; the session kinds check the cookie first, the
 * bare kinds answer a fixed body of the same shape). Parent messages (event-loop delay, CPU
 * time, close): see bench/child-lib.mjs.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import {
  closeServer,
  listenFastify,
  listenLoopback,
  options,
  serve,
  startTesseraServer,
} from "./child-lib.mjs";

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

async function startTessera(useRedis) {
  const flags = {
    data: options.dataDir,
    // As shipped: request logging at the default level, unless a labelled row turns it off.
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    // A labelled diagnostic row of the login bench sets it; otherwise the default.
    ...(options.argon2Concurrency === undefined
      ? {}
      : { argon2Concurrency: String(options.argon2Concurrency) }),
    // Throttling must not interfere with a login benchmark, nor the per-IP share of the
    // argon2id queue (every connection of the load generator comes from 127.0.0.1).
    loginAccountLimit: "10000",
    loginIpLimit: "1000000",
    argon2QueuePerSource: "1000",
  };
  if (useRedis) flags.redis = options.redisUrl;
  return startTesseraServer(flags, async (tessera) => {
    await tessera.hasher.warmUp();
    await tessera.users.create({ username: BENCH_USER, password: BENCH_PASSWORD });
  });
}

/**
 * Tessera with the default login limits and `--trust-proxy`, so the bench can speak for
 * several client IPs over loopback (X-Forwarded-For) and one of them gets throttled.
 */
async function startTesseraFlood() {
  const flags = { data: options.dataDir, trustProxy: "1" };
  return startTesseraServer(flags, async (tessera) => {
    await tessera.hasher.warmUp();
    await tessera.users.create({ username: BENCH_USER, password: BENCH_PASSWORD });
  });
}

async function startFastify() {
  const { default: Fastify } = await import("fastify");
  const app = Fastify({ logger: false });
  app.post("/login", async (_request, reply) => {
    reply.header("set-cookie", "sid=bare; Path=/; HttpOnly");
    return { user: FIXED_SESSION.user };
  });
  app.get("/session", async () => FIXED_SESSION);
  return { port: await listenFastify(app), close: () => app.close() };
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
  await listenLoopback(server);
  return { port: server.address().port, close: () => closeServer(server) };
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
  const server = await listenLoopback(app);
  return {
    port: server.address().port,
    close: async () => {
      await closeServer(server);
      if (redisClient) await redisClient.quit();
    },
  };
}

const STARTERS = {
  "tessera-sqlite": () => startTessera(false),
  "tessera-redis": () => startTessera(true),
  "tessera-flood": () => startTesseraFlood(),
  fastify: startFastify,
  http: startHttp,
  "express-memory": () => startExpress(false),
  "express-redis": () => startExpress(true),
};

serve(STARTERS, () => ({ password: BENCH_PASSWORD, username: BENCH_USER }));
