/**
 * Revocation reaches every API in milliseconds: two Tessera instances sharing Redis (and
 * one SQLite file), two separate API processes using tessera/guard, each following the
 * revocation feed of a different instance. A JWT revoked at instance A is refused by both
 * APIs — with no call to Tessera per request — within a bound measured and printed here;
 * a token revoked while an API's feed was down is refused right after it reconnects.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  clientSecretOf,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { describeRedis, requireRedisUrl } from "../support/redis.js";
import {
  type Api,
  startApi as startApiProcess,
  status,
  stopAllApis,
} from "./support/api-process.js";

const ISSUER = "http://auth.tessera.test";
const AUDIENCE = "https://api.example.com";

const startApi = (tessera: string, clientId: string, secret: string): Promise<Api> =>
  startApiProcess({ issuer: ISSUER, audience: AUDIENCE, tessera, clientId, secret });

/** Polls until the API refuses the token; returns the milliseconds it took (bounded). */
async function refusedWithin(
  api: Api,
  token: string,
  start: number,
  boundMs: number,
): Promise<number> {
  for (;;) {
    if ((await status(api, token)) === 401) return performance.now() - start;
    if (performance.now() - start > boundMs) throw new Error(`still accepted after ${boundMs} ms`);
  }
}

async function token(tessera: string, id: string, secret: string): Promise<string> {
  const res = await fetch(`${tessera}/oauth/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
    },
    body: "grant_type=client_credentials",
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function revoke(tessera: string, id: string, secret: string, t: string): Promise<void> {
  const res = await fetch(`${tessera}/oauth/revoke`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
    },
    body: `token=${t}`,
  });
  expect(res.status).toBe(200);
}

describeRedis("revocation propagation across instances and processes", () => {
  let a: ServerProcess;
  let b: ServerProcess;
  let args: string[];
  let svcSecret: string;
  let rsSecret: string;
  let api1: Api;
  let api2: Api;

  beforeAll(async () => {
    const data = tempDataDir();
    const prefix = `tessera-prop-${process.pid}-${Date.now()}:`;
    args = [
      "--data",
      data,
      "--redis",
      requireRedisUrl(),
      "--redis-prefix",
      prefix,
      "--issuer",
      ISSUER,
    ];
    const svc = await runCli([
      "client",
      "add",
      "svc",
      "--init",
      "--grants",
      "client_credentials",
      "--audience",
      AUDIENCE,
      ...args,
    ]);
    const rs = await runCli([
      "client",
      "add",
      "rs",
      "--grants",
      "client_credentials",
      "--audience",
      AUDIENCE,
      "--introspect",
      ...args,
    ]);
    svcSecret = clientSecretOf(svc.stdout);
    rsSecret = clientSecretOf(rs.stdout);
    a = await startServer(args);
    b = await startServer(args);
    api1 = await startApi(a.url, "rs", rsSecret);
    api2 = await startApi(b.url, "rs", rsSecret);
  }, 60_000);

  afterAll(async () => {
    stopAllApis();
    await stopAllServers();
    removeTempDirs();
  });

  it("a JWT revoked at instance A is refused by both APIs within milliseconds", async () => {
    const t = await token(a.url, "svc", svcSecret);
    expect(await status(api1, t)).toBe(200);
    expect(await status(api2, t)).toBe(200);
    const start = performance.now();
    await revoke(a.url, "svc", svcSecret, t);
    const [ms1, ms2] = await Promise.all([
      refusedWithin(api1, t, start, 2000),
      refusedWithin(api2, t, start, 2000),
    ]);
    process.stdout.write(
      `revocation at A → refused at API1 (feed from A) in ${ms1.toFixed(1)} ms, at API2 (feed from B) in ${ms2.toFixed(1)} ms\n`,
    );
    expect(ms1).toBeLessThan(2000);
    expect(ms2).toBeLessThan(2000);
  });

  it("a token revoked while an API was disconnected is refused right after it reconnects", async () => {
    const t = await token(a.url, "svc", svcSecret);
    expect(await status(api2, t)).toBe(200);
    // API2's feed source goes away; the revocation happens at A meanwhile.
    await b.stop();
    await revoke(a.url, "svc", svcSecret, t);
    // B comes back on the same port: the guard reconnects to the same URL, with the id of
    // the last event it saw, and gets what it missed.
    b = await startServer([...args, "--port", String(new URL(b.url).port)]);
    const start = performance.now();
    const ms = await refusedWithin(api2, t, start, 15_000);
    process.stdout.write(
      `revoked while API2 was disconnected → refused ${ms.toFixed(0)} ms after B came back\n`,
    );
  });
});
