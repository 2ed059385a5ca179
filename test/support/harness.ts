import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { ManualClock } from "../../src/clock.js";
import type { Config } from "../../src/config/defaults.js";
import { loadConfig, type RawSettings } from "../../src/config/load.js";
import { buildServer } from "../../src/server/app.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import type { Stores } from "../../src/store/open.js";
import type { DurableStore, EphemeralStore } from "../../src/store/types.js";
import { Tessera } from "../../src/tessera.js";

/**
 * Every secret token Tessera issues: `tsr_` + 43 (256 random bits) + 8 (tag) + 6 (CRC)
 * base64url characters (docs/introspection-fishing.md).
 */
export const TOKEN_SHAPE = /^tsr_[A-Za-z0-9_-]{57}$/;
/** The same, inside a larger text (a Set-Cookie line, CLI output). */
export const TOKEN_IN_TEXT = "tsr_[A-Za-z0-9_-]{57}";

/** A token's random body: the 32 bytes (256 bits) from the CSPRNG. */
export const tokenBody = (token: string): Buffer => Buffer.from(token.slice(4, 47), "base64url");

/** A valid password that passes the policy, for test users. */
export const PASSWORD = "correct horse battery staple";

export interface TestServer {
  app: FastifyInstance;
  tessera: Tessera;
  clock: ManualClock;
  config: Config;
  /** Every log line the server wrote, raw. */
  logs: string[];
  close(): Promise<void>;
}

/** Collects pino output so tests can search it. */
export function logCollector(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { stream, lines };
}

/**
 * An in-process server with a frozen clock, on the memory store unless `durable` /
 * `ephemeral` make others. `settings` are flag values, as on the command line.
 */
export async function testServer(
  options: {
    settings?: RawSettings;
    /** Makes the durable store on the server's clock (default: memory). */
    durable?: (clock: ManualClock) => DurableStore | Promise<DurableStore>;
    /** Makes a separate ephemeral store (Redis) on the server's clock (default: the durable one). */
    ephemeral?: (clock: ManualClock) => Promise<EphemeralStore>;
    users?: string[];
  } = {},
): Promise<TestServer> {
  const clock = new ManualClock();
  const config = loadConfig({ db: "memory:", logLevel: "info", ...options.settings }, {});
  const durable = (await options.durable?.(clock)) ?? new MemoryStore(clock);
  const ephemeral = (await options.ephemeral?.(clock)) ?? durable.ephemeral;
  const stores: Stores = {
    durable,
    ephemeral,
    close: async () => {
      if (ephemeral !== durable.ephemeral) await ephemeral.close();
      await durable.close();
    },
  };
  const tessera = await Tessera.open({ config, clock, stores });
  for (const username of options.users ?? ["alice"]) {
    await tessera.users.create({ username, password: PASSWORD });
  }
  const { stream, lines } = logCollector();
  const app = await buildServer(tessera, { logStream: stream });
  await app.ready();
  return {
    app,
    tessera,
    clock,
    config,
    logs: lines,
    close: async () => {
      await app.close();
      await tessera.close();
    },
  };
}

/** The `__Host-session` token from a response's Set-Cookie, or undefined. */
export function sessionTokenOf(
  setCookie: string | string[] | number | undefined,
): string | undefined {
  const all = Array.isArray(setCookie)
    ? setCookie
    : setCookie === undefined
      ? []
      : [String(setCookie)];
  for (const c of all) {
    const m = /^__Host-session=([^;]*)/.exec(c);
    if (m && m[1] !== "") return m[1];
  }
  return undefined;
}

/** Logs in over HTTP; returns the session token. */
export async function login(
  app: FastifyInstance,
  username = "alice",
  password = PASSWORD,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await app.inject({
    method: "POST",
    url: "/login",
    payload: { username, password },
    headers,
  });
  if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
  const token = sessionTokenOf(res.headers["set-cookie"]);
  if (token === undefined) throw new Error("login set no session cookie");
  return token;
}

export const cookie = (token: string) => ({ cookie: `__Host-session=${token}` });
