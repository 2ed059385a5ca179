/**
 * The servers of bench/bff.mjs, each a child process (bench/child-lib.mjs protocol):
 *
 *   node bench/bff-server.mjs KIND '{...}'
 *
 * - `tessera`: Tessera from ../dist, SQLite in `dataDir`, issuer `http://tessera.bench`,
 *   a user `alice`, the BFF's client `spa` (confidential, first party, --introspect) and
 *   `svc` (client_credentials) for the direct calls. Ready: `{ port, spaSecret, svcSecret }`.
 * - `api`: a node:http API verifying the bearer token with tessera/guard (JWKS from
 *   Tessera, verified locally, revocation feed off), answering `{"sub":…}`.
 * - `bff`: Fastify + the BFF (tessera/bff's `Bff` and `bffRoutes`), memory store, one
 *   upstream `api`, revocation feed off (its cost is not per request), logging as
 *   `tessera bff` does (its logger at `info` with the server's request log,
 *   src/server/request-log.ts, to stdout: a file, bench/lib.mjs).
 * - `floor-proxy` (a floor, not Tessera): a bare Fastify route (no logger, no session, no
 *   CSRF check) that proxies `GET /p/*` to the API with the same kind of node:http
 *   keep-alive agent as src/bff/proxy.ts and a fixed `Authorization` (option `token`): the
 *   cost of one HTTP hop in plus one HTTP hop out on this machine.
 * - `floor-json` (a floor, not Tessera): a bare Fastify route answering a fixed JSON body.
 */
import { Agent, createServer, request as httpRequest } from "node:http";
import {
  closeServer,
  listenFastify,
  listenLoopback,
  options,
  serve,
  startTesseraServer,
} from "./child-lib.mjs";

const ISSUER = "http://tessera.bench";
const AUDIENCE = "https://api.bench";
export const PASSWORD = "correct horse battery staple";

serve(
  {
    tessera: () =>
      startTesseraServer(
        { db: `sqlite:${options.dataDir}/tessera.db`, issuer: ISSUER },
        async (tessera) => {
          await tessera.users.create({ username: "alice", password: PASSWORD });
          const spa = await tessera.clients.add({
            id: "spa",
            grants: ["authorization_code", "refresh_token"],
            audience: [AUDIENCE],
            scopes: ["read"],
            redirectUris: ["https://app.bench/bff/callback"],
            firstParty: true,
            introspect: true,
          });
          const svc = await tessera.clients.add({
            id: "svc",
            grants: ["client_credentials"],
            audience: [AUDIENCE],
            scopes: ["read"],
          });
          return { spaSecret: spa.secret, svcSecret: svc.secret };
        },
      ),
    api: async () => {
      const { createGuard } = await import("../dist/guard/index.js");
      const guard = createGuard({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: `http://127.0.0.1:${options.tesseraPort}/.well-known/jwks.json`,
        revocations: false,
      });
      await guard.ready();
      const server = await listenLoopback(
        createServer(async (req, res) => {
          try {
            const p = await guard.verify({ authorization: req.headers.authorization });
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ sub: p.sub, orders: [] }));
          } catch {
            res.writeHead(401).end();
          }
        }),
      );
      return {
        port: server.address().port,
        close: async () => {
          guard.close();
          await closeServer(server);
        },
      };
    },
    bff: async () => {
      const { default: Fastify } = await import("fastify");
      const { Bff, bffRoutes } = await import("../dist/bff/index.js");
      const { MemoryStore } = await import("../dist/store/memory/index.js");
      const { systemClock } = await import("../dist/clock.js");
      const store = new MemoryStore(systemClock);
      const bff = new Bff(
        {
          issuer: ISSUER,
          issuerUrl: `http://127.0.0.1:${options.tesseraPort}`,
          clientId: "spa",
          clientSecret: options.spaSecret,
          publicUrl: "https://app.bench",
          upstreams: { api: `http://127.0.0.1:${options.apiPort}/` },
          revocations: false,
        },
        store.ephemeral,
      );
      // As `tessera bff` builds it (src/cli/commands/bff.ts): its request log at the
      // default level, to stdout (a file: bench/lib.mjs).
      const { createLogger } = await import("../dist/server/logger.js");
      const { RequestLog } = await import("../dist/server/request-log.js");
      const log = createLogger("info", undefined, "json");
      const app = Fastify({
        loggerInstance: log,
        trustProxy: false,
        logController: new RequestLog(log),
      });
      await bffRoutes(app, bff);
      const port = await listenFastify(app);
      return {
        port,
        close: async () => {
          bff.close();
          await app.close();
          await store.close();
        },
      };
    },
    "floor-proxy": async () => {
      const { default: Fastify } = await import("fastify");
      const agent = new Agent({ keepAlive: true, maxSockets: 256 });
      const app = Fastify({ logger: false });
      app.get("/p/*", (request, reply) => {
        const rest = request.raw.url.slice("/p/".length);
        const req = httpRequest(
          {
            hostname: "127.0.0.1",
            port: options.apiPort,
            path: `/${rest}`,
            method: "GET",
            headers: { authorization: `Bearer ${options.token}` },
            agent,
          },
          (res) => {
            const chunks = [];
            res.on("data", (c) => chunks.push(c));
            res.on("end", () =>
              reply
                .code(res.statusCode)
                .header("content-type", res.headers["content-type"])
                .send(Buffer.concat(chunks)),
            );
          },
        );
        req.on("error", (err) => reply.code(502).send({ error: err.message }));
        req.end();
        return reply;
      });
      const port = await listenFastify(app);
      return { port, close: () => app.close() };
    },
    "floor-json": async () => {
      const { default: Fastify } = await import("fastify");
      const app = Fastify({ logger: false });
      app.get("/json", async () => ({ sub: "svc", orders: [] }));
      const port = await listenFastify(app);
      return { port, close: () => app.close() };
    },
  },
  (server) => ({ spaSecret: server.spaSecret, svcSecret: server.svcSecret }),
);
