/**
 * `tessera serve --workers 2`: one primary, two worker processes sharing the port, on
 * SQLite (one file) and on PostgreSQL + Redis. Every request below opens a connection of
 * its own (the primary hands connections to the workers in turn), and which worker served
 * it is read from the workers' JSON log lines (their `pid`, and a `probe` query parameter
 * that makes the request's logged URL unique). Checked: both workers serve, a session made
 * by one works on the other, a revocation made through one worker reaches a guard that
 * follows the feed of the other, failed logins are counted across workers, parallel
 * refreshes of one token on both workers get one successor, a key rotated by the CLI is
 * published by both, a killed worker is replaced, and SIGTERM drains both (exit 0, no
 * SIGKILL needed). Then: the memory store refused, workers that keep dying, a killed primary.
 */

import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import { afterAll, describe, expect, it } from "vitest";
import { addClient, addUser, type Cluster, startCluster } from "../support/cluster.js";
import { describePostgres } from "../support/postgres.js";
import {
  CLI_PATH,
  childEnv,
  clientSecretOf,
  removeTempDirs,
  runCli,
  type ServerProcess,
  sessionFromSetCookie,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";
import { describeRedis } from "../support/redis.js";
import { type Api, startApi, status, stopAllApis } from "./support/api-process.js";

const PASSWORD = "Granite-Willow-Beacon-62";
const ISSUER = "https://auth.workers.test";
const AUDIENCE = "https://api.example.com";
const REDIRECT = "http://127.0.0.1:9/callback";
const LOGIN_LIMIT = 4;
/** Bounds that only stop a broken run from hanging (never a performance assertion). */
const WAIT_MS = 10_000;

afterAll(async () => {
  stopAllApis();
  await stopAllServers();
  removeTempDirs();
});

interface Answer {
  status: number;
  body: string;
  setCookie: string[];
}

/** One request on a connection of its own (no keep-alive pool: the next one is new). */
function fresh(
  base: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      { method, agent: false, headers: options.headers, timeout: WAIT_MS },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            setCookie: res.headers["set-cookie"] ?? [],
          }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer`)));
    req.on("error", reject);
    req.end(options.body);
  });
}

interface LogLine {
  pid: number;
  worker?: number | string;
  msg?: string;
  req?: { url?: string };
  workerPid?: number;
  signal?: string;
}

function logLines(server: ServerProcess): LogLine[] {
  const out: LogLine[] = [];
  for (const line of server.stdout().split("\n")) {
    if (!line.startsWith("{")) continue;
    out.push(JSON.parse(line) as LogLine);
  }
  return out;
}

/**
 * The pid of the worker that logged the incoming request whose URL contains `fragment`
 * (the server must run at `--log-level debug`).
 */
async function servedBy(server: ServerProcess, fragment: string): Promise<number> {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const line = logLines(server).find(
      (l) => l.msg === "incoming request" && l.req?.url?.includes(fragment) === true,
    );
    if (line !== undefined) return line.pid;
    if (Date.now() > until) throw new Error(`no worker logged ${fragment}\n${server.stdout()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pids of the workers the primary started, in order. */
function startedWorkers(server: ServerProcess): number[] {
  return logLines(server)
    .filter((l) => l.worker === "primary" && /^worker \d+ started/.test(l.msg ?? ""))
    .map((l) => l.workerPid as number);
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let probes = 0;
const probe = (path: string) => `${path}${path.includes("?") ? "&" : "?"}probe=p${++probes}x`;

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

interface Setup {
  server: ServerProcess;
  /** Basic credentials of `svc` (client_credentials) and `rs` (--introspect, follows the feed). */
  svc: string;
  rsSecret: string;
  /** Basic credentials of `app` (authorization_code, refresh_token, first-party). */
  app: string;
  /** `tessera keys rotate` on the installation, beside the running server. */
  rotateKeys(): Promise<void>;
}

function workerSuite(name: string, start: () => Promise<Setup>, teardown: () => Promise<void>) {
  describe(name, () => {
    let s: Setup;
    let api: Api | undefined;

    it("starts two workers that both serve; a session made by one works on the other", async () => {
      s = await start();
      const workers = startedWorkers(s.server);
      expect(workers).toHaveLength(2);
      const login = await fresh(s.server.url, "POST", probe("/login"), {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: PASSWORD }),
      });
      expect(login.status).toBe(200);
      const cookie = sessionFromSetCookie(
        new Headers(login.setCookie.map((c) => ["set-cookie", c])),
      );
      const pids = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const path = probe("/session");
        const res = await fresh(s.server.url, "GET", path, {
          headers: { cookie: `__Host-session=${cookie}` },
        });
        expect(res.status).toBe(200);
        pids.add(await servedBy(s.server, path));
      }
      expect([...pids].sort()).toEqual([...workers].sort());
    }, 60_000);

    it("a revocation made through one worker reaches a guard following the other's feed", async () => {
      api = await startApi({
        issuer: ISSUER,
        audience: AUDIENCE,
        tessera: s.server.url,
        clientId: "rs",
        secret: s.rsSecret,
      });
      const feedPid = await servedBy(s.server, "/events/revocations");
      let across = false;
      for (let attempt = 0; attempt < 6 && !across; attempt++) {
        const issued = await fresh(s.server.url, "POST", "/oauth/token", {
          headers: {
            authorization: s.svc,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: "grant_type=client_credentials",
        });
        const token = (JSON.parse(issued.body) as { access_token: string }).access_token;
        expect(await status(api, token)).toBe(200);
        const path = probe("/oauth/revoke");
        const revoked = await fresh(s.server.url, "POST", path, {
          headers: {
            authorization: s.svc,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: `token=${token}`,
        });
        expect(revoked.status).toBe(200);
        const answered = performance.now();
        across = (await servedBy(s.server, path)) !== feedPid;
        // Refused by the guard without asking Tessera: the event came over the feed.
        const api_ = api;
        await until("the guard refuses the revoked token", async () =>
          (await status(api_, token)) === 401 ? true : undefined,
        );
        if (across) {
          const ms = (performance.now() - answered).toFixed(0);
          console.info(
            `${name}: revoked through one worker, refused by the other's follower ${ms} ms later`,
          );
        }
      }
      expect(across).toBe(true);
    }, 60_000);

    it("counts failed logins across workers", async () => {
      const pids = new Set<number>();
      const statuses: number[] = [];
      for (let i = 0; i <= LOGIN_LIMIT; i++) {
        const path = probe("/login");
        const res = await fresh(s.server.url, "POST", path, {
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "bob", password: "wrong-password-123456" }),
        });
        statuses.push(res.status);
        pids.add(await servedBy(s.server, path));
      }
      expect(pids.size).toBe(2);
      // Counted per worker, neither would have reached the limit yet.
      expect(statuses).toEqual([...Array(LOGIN_LIMIT).fill(401), 429]);
    }, 60_000);

    it("parallel refreshes of one token on both workers get one successor", async () => {
      const login = await fresh(s.server.url, "POST", "/login", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password: PASSWORD }),
      });
      const cookie = /__Host-session=([^;]*)/.exec(login.setCookie.join("\n"))?.[1];
      const verifier = randomBytes(32).toString("base64url");
      const authorize = new URLSearchParams({
        response_type: "code",
        client_id: "app",
        redirect_uri: REDIRECT,
        state: "s1",
        code_challenge: createHash("sha256").update(verifier).digest("base64url"),
        code_challenge_method: "S256",
      });
      const redirect = await new Promise<string>((resolve, reject) => {
        request(
          new URL(`/oauth/authorize?${authorize}`, s.server.url),
          { agent: false, headers: { cookie: `__Host-session=${cookie}` } },
          (res) => {
            res.resume();
            resolve(res.headers.location ?? "");
          },
        )
          .on("error", reject)
          .end();
      });
      const code = new URL(redirect).searchParams.get("code") as string;
      const form = { authorization: s.app, "content-type": "application/x-www-form-urlencoded" };
      const issued = await fresh(s.server.url, "POST", "/oauth/token", {
        headers: form,
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: REDIRECT,
          code_verifier: verifier,
        }).toString(),
      });
      expect(issued.status, issued.body).toBe(200);
      const refresh = (JSON.parse(issued.body) as { refresh_token: string }).refresh_token;
      const paths = Array.from({ length: 4 }, () => probe("/oauth/token"));
      const answers = await Promise.all(
        paths.map((path) =>
          fresh(s.server.url, "POST", path, {
            headers: form,
            body: new URLSearchParams({
              grant_type: "refresh_token",
              refresh_token: refresh,
            }).toString(),
          }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      const successors = answers.map(
        (a) => (JSON.parse(a.body) as { refresh_token: string }).refresh_token,
      );
      expect(new Set(successors).size).toBe(1);
      expect(successors[0]).not.toBe(refresh);
      const pids = new Set(await Promise.all(paths.map((path) => servedBy(s.server, path))));
      expect(pids.size).toBe(2);
    }, 60_000);

    it("a key rotated by the CLI is published by both workers", async () => {
      const kidsNow = async (): Promise<{ pid: number; kids: string[] }> => {
        const path = probe("/.well-known/jwks.json");
        const res = await fresh(s.server.url, "GET", path);
        const kids = (JSON.parse(res.body) as { keys: Array<{ kid: string }> }).keys.map(
          (k) => k.kid,
        );
        return { pid: await servedBy(s.server, path), kids };
      };
      const before = new Set((await kidsNow()).kids);
      await s.rotateKeys();
      const published = new Map<number, string[]>();
      await until("both workers publish the new key", async () => {
        const { pid, kids } = await kidsNow();
        const fresh_ = kids.filter((k) => !before.has(k));
        if (fresh_.length > 0) published.set(pid, fresh_);
        return published.size === 2 ? true : undefined;
      });
      const [a, b] = [...published.values()];
      expect(a).toEqual(b);
    }, 60_000);

    it("replaces a killed worker", async () => {
      const [victim, survivor] = startedWorkers(s.server) as [number, number];
      process.kill(victim, "SIGKILL");
      const replacement = await until(
        "a replacement worker",
        async () => startedWorkers(s.server)[2],
      );
      expect(s.server.stdout()).toMatch(/worker 1 exited \(SIGKILL\): starting a replacement/);
      const seen = new Set<number>();
      await until("the replacement serves", async () => {
        const path = probe("/healthz");
        const res = await fresh(s.server.url, "GET", path);
        expect(res.status).toBe(200);
        seen.add(await servedBy(s.server, path));
        return seen.has(replacement) ? true : undefined;
      });
      expect(seen.has(victim)).toBe(false);
      expect(replacement).not.toBe(survivor);
    }, 60_000);

    it("SIGTERM: the primary forwards it, both workers drain and it exits 0", async () => {
      await api?.stop();
      // Logins in flight (argon2 takes a while) when SIGTERM comes are answered.
      const paths = [probe("/login"), probe("/login")];
      const inFlight = paths.map((path) =>
        fresh(s.server.url, "POST", path, {
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: "alice", password: PASSWORD }),
        }),
      );
      for (const path of paths) await servedBy(s.server, path);
      const exit = await s.server.stop();
      expect((await Promise.all(inFlight)).map((r) => r.status)).toEqual([200, 200]);
      expect(exit).toEqual({ code: 0, signal: null, forced: false });
      const out = s.server.stdout();
      expect(out).toMatch(
        /"worker":"primary","signal":"SIGTERM","msg":"shutting down the workers"/,
      );
      expect(out.match(/"msg":"worker \d+ exited \(code 0\)"/g)).toHaveLength(2);
      expect(out).toMatch(/"exitCode":0,"msg":"every worker has exited"/);
      await teardown();
    }, 60_000);
  });
}

describe("serve --workers on the memory store", () => {
  it("refuses more than one worker: exit 2, workers_need_shared_store", async () => {
    const r = await runCli(["serve", "--port", "0", "--db", "memory:", "--workers", "2"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("(workers_need_shared_store)");
    expect(r.stdout).not.toContain("listening");
  });
});

describe("serve --workers: workers that keep dying", () => {
  it("are replaced at most 5 times a minute; then the primary stops and exits 1", async () => {
    const server = await startServer([
      "--data",
      tempDataDir(),
      "--workers",
      "2",
      "--log-format",
      "json",
    ]);
    for (let kill = 0; kill < 6; kill++) {
      const victim = await until(
        `worker ${kill + 1} to kill`,
        async () => startedWorkers(server)[kill],
      );
      process.kill(victim, "SIGKILL");
      if (kill < 5) await until("its replacement", async () => startedWorkers(server)[kill + 2]);
    }
    await until("the primary exits", async () => {
      try {
        process.kill(server.pid, 0);
        return undefined;
      } catch {
        return true;
      }
    });
    const exit = await server.stop();
    expect(exit).toEqual({ code: 1, signal: null, forced: false });
    expect(startedWorkers(server)).toHaveLength(7);
    expect(server.stdout()).toMatch(/the 6th within 60 s: giving up/);
    expect(server.stdout().match(/starting a replacement/g)).toHaveLength(5);
  }, 60_000);
});

describe("serve --workers: the primary killed", () => {
  it("takes its workers with it: none is left serving the port", async () => {
    const server = await startServer([
      "--data",
      tempDataDir(),
      "--workers",
      "2",
      "--log-format",
      "json",
    ]);
    const workers = startedWorkers(server);
    expect(workers).toHaveLength(2);
    process.kill(server.pid, "SIGKILL");
    const gone = (pid: number) => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    };
    await until("the workers exit", async () => (workers.every(gone) ? true : undefined));
    await expect(fresh(server.url, "GET", "/healthz")).rejects.toThrow(/ECONNREFUSED/);
  }, 30_000);
});

describe("serve --workers: Ctrl-C", () => {
  it("SIGINT is the primary's: a worker ignores its own; the group's stops all, exit 0, none replaced", async () => {
    // Detached: a process group of its own, as a terminal's foreground job.
    const child = spawn(
      process.execPath,
      [
        CLI_PATH,
        "serve",
        "--port",
        "0",
        "--data",
        tempDataDir(),
        "--workers",
        "2",
        "--log-format",
        "json",
        // servedBy reads the `incoming request` lines, written at `debug`.
        "--log-level",
        "debug",
      ],
      { env: childEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    try {
      const server = {
        stdout: () => out,
        url: `http://127.0.0.1:${await until("listening", async () => /Tessera listening on http:\/\/localhost:(\d+)/.exec(out)?.[1])}`,
      } as ServerProcess;
      const [first] = startedWorkers(server) as [number];
      process.kill(first, "SIGINT");
      await until("the worker handles SIGINT", async () =>
        logLines(server).find((l) => l.pid === first && l.signal === "SIGINT"),
      );
      expect(out).not.toMatch(/"msg":"shutting down"/);
      // Still serving: the primary decides when workers stop.
      await until("the worker that got SIGINT serves", async () => {
        const path = probe("/healthz");
        expect((await fresh(server.url, "GET", path)).status).toBe(200);
        return (await servedBy(server, path)) === first ? true : undefined;
      });
      process.kill(-(child.pid as number), "SIGINT");
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(out).not.toMatch(/starting a replacement/);
      expect(out.match(/"msg":"worker \d+ exited \(code 0\)"/g)).toHaveLength(2);
    } finally {
      if (child.exitCode === null && child.signalCode === null)
        process.kill(-(child.pid as number), "SIGKILL");
    }
  }, 60_000);
});

const CLIENTS = (issuerArgs: readonly string[]) => ({
  svc: ["--grants", "client_credentials", "--audience", AUDIENCE, ...issuerArgs],
  rs: ["--grants", "client_credentials", "--audience", AUDIENCE, "--introspect", ...issuerArgs],
  app: [
    "--grants",
    "authorization_code,refresh_token",
    "--audience",
    AUDIENCE,
    "--redirect-uri",
    REDIRECT,
    "--first-party",
    ...issuerArgs,
  ],
});

/**
 * Every worker of every suite: short key timings, so a rotation happens within a test;
 * `debug`, so every request is logged (at `info` a 2xx is not) and servedBy finds it.
 */
const SERVER_ARGS = [
  "--workers",
  "2",
  "--log-format",
  "json",
  "--log-level",
  "debug",
  "--login-account-limit",
  String(LOGIN_LIMIT),
  "--keys-reload-interval",
  "1",
  "--key-activation-delay",
  "2",
];

workerSuite(
  "serve --workers 2 on SQLite",
  async () => {
    const data = tempDataDir();
    const args = ["--data", data, "--issuer", ISSUER];
    const cli = (a: readonly string[], stdin?: string) =>
      runCli(a, stdin === undefined ? {} : { stdin });
    const svc = await cli(["client", "add", "svc", "--init", ...CLIENTS(args).svc]);
    const rs = await cli(["client", "add", "rs", ...CLIENTS(args).rs]);
    for (const u of ["alice", "bob"]) {
      const r = await cli(["user", "add", u, "--password-stdin", ...args], PASSWORD);
      expect(r.code).toBe(0);
    }
    const app = await cli(["client", "add", "app", ...CLIENTS(args).app]);
    const server = await startServer([...args, ...SERVER_ARGS]);
    return {
      server,
      svc: basic("svc", clientSecretOf(svc.stdout)),
      rsSecret: clientSecretOf(rs.stdout),
      app: basic("app", clientSecretOf(app.stdout)),
      rotateKeys: async () => {
        const r = await cli(["keys", "rotate", ...args]);
        expect(r.code, r.stderr).toBe(0);
      },
    };
  },
  async () => {},
);

describePostgres("PostgreSQL", () => {
  describeRedis("and Redis", () => {
    let cluster: Cluster | undefined;
    workerSuite(
      "serve --workers 2 on PostgreSQL + Redis",
      async () => {
        let svc = "";
        let rsSecret = "";
        let app = "";
        cluster = await startCluster({
          instances: 1,
          redis: true,
          env: { TESSERA_ISSUER: ISSUER },
          args: SERVER_ARGS,
          setup: async (cli) => {
            svc = await addClient(cli, "svc", CLIENTS([]).svc);
            app = await addClient(cli, "app", CLIENTS([]).app);
            const rs = await cli(["client", "add", "rs", ...CLIENTS([]).rs]);
            rsSecret = clientSecretOf(rs.stdout);
            await addUser(cli, "alice", PASSWORD);
            await addUser(cli, "bob", PASSWORD);
          },
        });
        const c = cluster;
        return {
          server: c.instances[0] as ServerProcess,
          svc,
          rsSecret,
          app,
          rotateKeys: async () => {
            const r = await c.cli(["keys", "rotate"]);
            expect(r.code, r.stderr).toBe(0);
          },
        };
      },
      async () => {
        await cluster?.stop();
      },
    );
  });
});
