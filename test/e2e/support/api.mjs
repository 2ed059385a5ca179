// A tiny API process for the multi-process tests: node:http + tessera/guard (built, from
// dist/), configured from the environment. It prints "api listening on PORT" when ready.
//   GET /whoami  → 200 {sub, credential} or the guard's error status + {error, reason}
//   GET /feed    → the guard's feed state
import http from "node:http";
import { createGuard, isGuardError } from "../../../dist/guard/index.js";

const env = process.env;
const guard = createGuard({
  issuer: env.API_ISSUER,
  audience: env.API_AUDIENCE,
  jwks: `${env.API_TESSERA}/.well-known/jwks.json`,
  cacheSize: Number(env.API_CACHE_SIZE ?? "10000"),
  introspection: {
    clientId: env.API_CLIENT_ID,
    clientSecret: env.API_CLIENT_SECRET,
    url: `${env.API_TESSERA}/oauth/introspect`,
  },
  revocations: { url: `${env.API_TESSERA}/events/revocations` },
});

const server = http.createServer(async (req, res) => {
  res.setHeader("content-type", "application/json");
  if (req.url === "/feed") {
    res.end(JSON.stringify(guard.feedState()));
    return;
  }
  try {
    const p = await guard.verify({
      authorization: req.headers.authorization,
      cookie: req.headers.cookie,
    });
    res.end(JSON.stringify({ sub: p.sub, credential: p.credential }));
  } catch (err) {
    if (!isGuardError(err)) {
      res.statusCode = 500;
      res.end(JSON.stringify({ error: "server_error" }));
      return;
    }
    res.statusCode = err.status;
    res.end(JSON.stringify({ error: err.code, reason: err.reason }));
  }
});

// Listen first: the guard's feed connection does not keep the process alive by itself.
server.listen(0, "127.0.0.1", async () => {
  await guard.ready();
  process.stdout.write(`api listening on ${server.address().port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.once(signal, () => {
    guard.close?.();
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
