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
 *   `tessera bff` does (its logger at `info` with its request log, src/bff/request-log.ts,
 *   to stdout: a file, bench/lib.mjs).
 */
import { createServer } from "node:http";
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
      const { BffLogController } = await import("../dist/bff/request-log.js");
      const app = Fastify({
        loggerInstance: createLogger("info"),
        trustProxy: false,
        logController: new BffLogController(),
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
  },
  (server) => ({ spaSecret: server.spaSecret, svcSecret: server.svcSecret }),
);
