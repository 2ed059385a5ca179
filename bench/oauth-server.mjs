/**
 * One OAuth server under test, run as a child process of bench/oauth.mjs (so the load
 * generator in the parent does not share an event loop with it). Usage, via `fork` + IPC:
 *
 *   node bench/oauth-server.mjs KIND '{"dataDir": "...", "redisUrl": "..."}'
 *
 * KIND:
 * - `tessera`: Tessera (`Tessera.open` + `buildServer` from ../dist), SQLite store in
 *   `dataDir`, or with `redisUrl` the `--redis` ephemeral store (opaque tokens and counters
 *   in Redis; clients stay in SQLite). Log level silent; `--introspection-forged-limit`
 *   at its maximum so the random tokens of the "inactive" run never make `rs` a fishing
 *   client (tarpit, 429) during the benchmark.
 * - `oidc-provider`: oidc-provider 9 with its in-memory adapter (its default), features
 *   clientCredentials and introspection enabled.
 * - `fastify`: the floor, for information: bare fastify 5 + @fastify/formbody (as Tessera
 *   uses them) answering both endpoints with a fixed JSON body of the same size as
 *   Tessera's answers, after parsing the form; no client authentication, no token.
 *
 * Both register the same three confidential clients (client_secret_basic):
 * - `svc`: client_credentials, scope `read`, the server's default token format
 *   (Tessera: `tokenFormat: "opaque"` is asked for explicitly; oidc-provider: opaque is
 *   what it issues when no resource indicator applies);
 * - `svc-jwt`: client_credentials, scope `read`, audience API: a JWT access token signed
 *   with Ed25519 (EdDSA) by both servers (oidc-provider through its resource-indicators
 *   feature: a default resource whose resource server asks for `accessTokenFormat: "jwt"`);
 * - `rs`: the resource server that introspects (Tessera: `introspect: true`).
 *
 * Sends `{ type: "ready", port, paths, clients, info }` to the parent. Parent messages, as
 * for bench/server.mjs: see bench/child-lib.mjs (`cpu-start` / `cpu-stop`: process.cpuUsage
 * in between, answered `{ type: "cpu", user, system }` in µs; `close`: close and exit 0, so
 * `--cpu-prof` gets written).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  closeServer,
  listenFastify,
  listenLoopback,
  options,
  serve,
  startTesseraServer,
} from "./child-lib.mjs";

const API = "https://api.bench.example";
/** Above any count a benchmark run reaches; the setting's maximum (1,000,000 / min). */
const FORGED_LIMIT = "1000000";

async function startTessera() {
  const flags = {
    data: options.dataDir,
    // As shipped: request logging at the default level, unless a labelled row turns it off.
    ...(options.logLevel === undefined ? {} : { logLevel: options.logLevel }),
    introspectionForgedLimit: FORGED_LIMIT,
    // Like for like with oidc-provider's EdDSA JWTs (Tessera's default is ES256).
    signingAlg: "EdDSA",
  };
  if (options.redisUrl !== undefined) flags.redis = options.redisUrl;
  return startTesseraServer(flags, async (tessera, config) => {
    const add = async (input) => {
      const { secret } = await tessera.clients.add({
        grants: ["client_credentials"],
        audience: [API],
        ...input,
      });
      return { id: input.id, secret };
    };
    const clients = {
      opaque: await add({ id: "svc", scopes: ["read"], tokenFormat: "opaque" }),
      jwt: await add({ id: "svc-jwt", scopes: ["read"], tokenFormat: "jwt" }),
      introspector: await add({ id: "rs", scopes: [], introspect: true }),
    };
    return {
      paths: { token: "/oauth/token", introspect: "/oauth/introspect" },
      clients,
      version: { alg: config.signingAlg, store: options.redisUrl ? "redis" : "sqlite" },
    };
  });
}

async function startOidcProvider() {
  const { Provider, errors } = await import("oidc-provider");
  const secret = () => randomBytes(32).toString("base64url");
  const jwk = (type, extra) => ({
    ...generateKeyPairSync(type, extra).privateKey.export({ format: "jwk" }),
    use: "sig",
  });
  const clientsMeta = (id) => ({
    client_id: id,
    client_secret: secret(),
    grant_types: ["client_credentials"],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: "client_secret_basic",
    scope: "read",
  });
  const meta = {
    opaque: clientsMeta("svc"),
    jwt: clientsMeta("svc-jwt"),
    introspector: clientsMeta("rs"),
  };
  const provider = new Provider("http://localhost:4000", {
    clients: Object.values(meta),
    // An EdDSA key for the JWT access tokens; an RS256 key because ID tokens default to it.
    jwks: {
      keys: [
        { ...jwk("ed25519"), alg: "EdDSA", kid: "ed" },
        { ...jwk("rsa", { modulusLength: 2048 }), alg: "RS256", kid: "rs" },
      ],
    },
    cookies: { keys: [secret()] },
    scopes: ["openid", "offline_access", "read"],
    ttl: { ClientCredentials: 900 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Only `svc-jwt` gets a resource (and with it a JWT); `svc` gets the default
        // opaque ClientCredentials token, as without resource indicators.
        defaultResource: async (_ctx, client, oneOf) =>
          oneOf ?? (client.clientId === "svc-jwt" ? API : undefined),
        getResourceServerInfo: async (_ctx, resource) => {
          if (resource !== API) throw new errors.InvalidTarget();
          return {
            scope: "read",
            audience: API,
            accessTokenTTL: 900,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "EdDSA" } },
          };
        },
        useGrantedResource: async () => false,
      },
    },
  });
  const server = await listenLoopback(provider);
  const pick = (m) => ({ id: m.client_id, secret: m.client_secret });
  return {
    port: server.address().port,
    paths: { token: "/token", introspect: "/token/introspection" },
    clients: {
      opaque: pick(meta.opaque),
      jwt: pick(meta.jwt),
      introspector: pick(meta.introspector),
    },
    version: { adapter: "memory (default; LRU of 1000 entries)" },
    close: () => closeServer(server),
  };
}

async function startFastify() {
  const { default: Fastify } = await import("fastify");
  const { default: formbody } = await import("@fastify/formbody");
  const app = Fastify({ logger: false });
  await app.register(formbody);
  const token = randomBytes(32).toString("base64url");
  const fixed = {
    token: { access_token: token, token_type: "Bearer", expires_in: 900, scope: "read" },
    introspect: {
      active: true,
      client_id: "svc",
      sub: "svc",
      aud: API,
      iss: "http://localhost:4000",
      exp: 1_900_000_900,
      iat: 1_900_000_000,
      jti: "kp7emcUszNXReWQ4OCc_cQ",
      token_type: "Bearer",
      scope: "read",
    },
  };
  app.post("/token", async (request) => {
    if (request.body?.grant_type !== "client_credentials") throw new Error("bad request");
    return fixed.token;
  });
  app.post("/introspect", async (request) => {
    if (typeof request.body?.token !== "string") throw new Error("bad request");
    return request.body.token === token ? fixed.introspect : { active: false };
  });
  const port = await listenFastify(app);
  const none = { id: "none", secret: "none" };
  return {
    port,
    paths: { token: "/token", introspect: "/introspect" },
    clients: { opaque: none, jwt: none, introspector: none },
    version: {},
    close: () => app.close(),
  };
}

const STARTERS = {
  tessera: startTessera,
  "oidc-provider": startOidcProvider,
  fastify: startFastify,
};

serve(STARTERS, (server) => ({
  paths: server.paths,
  clients: server.clients,
  info: server.version,
}));
