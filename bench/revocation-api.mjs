// The API process of bench/revocation.mjs: node:http + tessera/guard (from ../dist/),
// following one Tessera instance's revocation feed, configured from the environment like
// test/e2e/support/api.mjs (a bench copy, so the bench does not depend on test files).
// It prints "api listening on PORT" once the guard has loaded the JWKS and synced the feed.
//   GET /whoami → 200 {sub} or the guard's error status + {error, reason}
//   GET /stats  → requests answered, this process's CPU time, guard.stats(), feedState()
// It exits when its stdin closes, so it cannot outlive the bench even after a SIGKILL.
import http from "node:http";
import { createGuard, isGuardError } from "../dist/guard/index.js";

const env = process.env;
const guard = createGuard({
  issuer: env.API_ISSUER,
  audience: env.API_AUDIENCE,
  jwks: `${env.API_TESSERA}/.well-known/jwks.json`,
  introspection: {
    clientId: env.API_CLIENT_ID,
    clientSecret: env.API_CLIENT_SECRET,
    url: `${env.API_TESSERA}/oauth/introspect`,
  },
  revocations: { url: `${env.API_TESSERA}/events/revocations` },
});

let requests = 0;
const server = http.createServer(async (req, res) => {
  res.setHeader("content-type", "application/json");
  if (req.url === "/stats") {
    res.end(
      JSON.stringify({
        requests,
        cpu: process.cpuUsage(),
        guard: guard.stats(),
        feed: guard.feedState(),
      }),
    );
    return;
  }
  requests++;
  try {
    const p = await guard.verify({ authorization: req.headers.authorization });
    res.end(JSON.stringify({ sub: p.sub }));
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
server.keepAliveTimeout = 60_000;

const stop = () => {
  guard.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};

// Listen first: the guard's feed connection does not keep the process alive by itself.
server.listen(0, "127.0.0.1", async () => {
  try {
    await guard.ready();
  } catch (err) {
    process.stderr.write(`guard not ready: ${err instanceof Error ? err.message : err}\n`);
    process.exit(1);
  }
  process.stdout.write(`api listening on ${server.address().port}\n`);
});
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, stop);
process.stdin.on("close", stop);
process.stdin.on("end", stop);
process.stdin.resume();
