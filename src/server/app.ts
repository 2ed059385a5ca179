import formbody from "@fastify/formbody";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from "fastify";
import type { DestinationStream } from "pino";
import { TesseraError } from "../errors.js";
import type { Tessera } from "../tessera.js";
import { errorHandler } from "./errors.js";
import { createLogger } from "./logger.js";
import { metricsRoutes } from "./metrics.js";
import { trustHops } from "./proxy.js";
import { authorizeRoutes } from "./routes/authorize.js";
import { healthRoutes } from "./routes/health.js";
import { homeRoutes } from "./routes/home.js";
import { loginRoutes } from "./routes/login.js";
import { oauthRoutes } from "./routes/oauth.js";
import { sessionRoutes } from "./routes/session.js";
import { wellKnownRoutes } from "./routes/well-known.js";
import { applySecurityHeaders, assertSameOrigin } from "./security.js";

export interface BuildServerOptions {
  /** Where log lines go (tests capture them); default stdout. */
  logStream?: DestinationStream;
}

/** What every route gets besides the domain: request-level policy. */
export interface RouteContext {
  assertSameOrigin(request: FastifyRequest): void;
}

/**
 * The HTTP face of Tessera: thin. Parses and checks input, calls the domain, maps
 * errors to `{"error": code}` with their status. No auth logic lives here.
 */
export async function buildServer(
  tessera: Tessera,
  options: BuildServerOptions = {},
): Promise<FastifyInstance> {
  const { config } = tessera;
  const app = Fastify({
    loggerInstance: createLogger(config.logLevel, options.logStream) as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    // Hops, never `true`: with `true` the left-most X-Forwarded-For (client-chosen) wins.
    trustProxy: config.trustProxy === 0 ? false : trustHops(config.trustProxy),
    // Query strings and JSON are parsed by secure-json-parse (no __proto__ poisoning).
    onProtoPoisoning: "error",
    onConstructorPoisoning: "error",
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 128 },
  });
  // Accepted bodies: JSON and urlencoded forms. Anything else is 415 unsupported_media_type.
  app.removeContentTypeParser("text/plain");
  await app.register(formbody, { bodyLimit: config.bodyLimit });

  const issuer = new URL(config.issuer);
  const hsts = issuer.protocol === "https:";
  const allowedOrigins = new Set([issuer.origin]);
  const ctx: RouteContext = {
    assertSameOrigin: (request) => assertSameOrigin(request, allowedOrigins),
  };

  app.addHook("onRequest", async (_request, reply) => {
    applySecurityHeaders(reply, hsts);
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((_request, reply) => {
    reply.code(404).send({ error: "not_found", message: new TesseraError("not_found").message });
  });

  homeRoutes(app, tessera);
  loginRoutes(app, tessera, ctx);
  sessionRoutes(app, tessera, ctx);
  healthRoutes(app, tessera);
  metricsRoutes(app, config.metrics as "loopback" | "public" | "off", tessera.forgeries);
  wellKnownRoutes(app, tessera);
  await authorizeRoutes(app, tessera, ctx);
  // OAuth endpoints answer errors in RFC 6749 form: an encapsulated plugin, own handler.
  await app.register(async (scope) => oauthRoutes(scope, tessera));
  return app;
}
