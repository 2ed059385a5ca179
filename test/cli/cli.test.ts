/**
 * The `tessera` command. Exit codes and messages are checked on the real binary
 * (`node dist/cli/main.js`: main.ts maps errors to exit codes); the rest runs `runCli`
 * in-process with a fake io, against the same SQLite file a real server is serving, so
 * every change the CLI makes is observed over HTTP by a separate process.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as runCliInProcess } from "../../src/cli/run.js";
import { TOKEN_SHAPE } from "../support/harness.js";
import {
  getSession,
  http,
  login,
  loginToken,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

const PASSWORD = "Saffron-Glacier-Pillow-81";

/** Runs the CLI in this process; `stdin` is what `--password-stdin` reads. */
async function cli(
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCliInProcess(args, {
    env: options.env ?? {},
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

describe("tessera user ... beside a running server on the same --data", () => {
  let data: string;
  let server: ServerProcess;

  beforeAll(async () => {
    data = tempDataDir();
    server = await startServer(["--data", data]);
  }, 30_000);

  afterAll(async () => {
    await server?.stop();
  });

  const user = (...args: string[]) => [...args, "--data", data];

  describe("user add", () => {
    it("creates a user from --password-stdin, stripping one trailing newline", async () => {
      const res = await runCli(user("user", "add", "bob", "--password-stdin"), {
        stdin: `${PASSWORD}\n`,
      });
      expect(res.stderr).toBe(`tessera: using data in ${data} (sqlite)\n`);
      expect(res.code).toBe(0);
      expect(res.stdout).toMatch(/^created user bob \(id [A-Za-z0-9_-]+\)\n$/);
      expect(res.stdout).not.toContain(PASSWORD);

      expect((await login(server.url, "bob", PASSWORD)).status).toBe(200);
      expect((await login(server.url, "bob", `${PASSWORD}\n`)).status).toBe(401);
    });

    it("strips exactly one newline (LF or CRLF), nothing more", async () => {
      await cli(user("user", "add", "bob2", "--password-stdin"), { stdin: `${PASSWORD}\n\n` });
      expect((await login(server.url, "bob2", `${PASSWORD}\n`)).status).toBe(200);
      expect((await login(server.url, "bob2", PASSWORD)).status).toBe(401);

      await cli(user("user", "add", "bob3", "--password-stdin"), { stdin: `${PASSWORD}\r\n` });
      expect((await login(server.url, "bob3", PASSWORD)).status).toBe(200);

      await cli(user("user", "add", "bob4", "--password-stdin"), { stdin: ` ${PASSWORD} ` });
      expect((await login(server.url, "bob4", ` ${PASSWORD} `)).status).toBe(200);
      expect((await login(server.url, "bob4", PASSWORD)).status).toBe(401);
    });

    it("refuses to run without --password-stdin, and never takes the password as an argument", async () => {
      const secret = "Positional-Secret-991";
      const res = await runCli(user("user", "add", "carol", secret));
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/--password-stdin/);
      expect(res.stderr).not.toContain(secret);
      expect(res.stdout).toBe("");

      // --password VALUE is no option at all.
      const flag = await runCli(user("user", "add", "carol", "--password", secret));
      expect(flag.code).toBe(2);
      expect(flag.stderr).toMatch(/unknown option --password\b/);
      expect(flag.stderr).not.toContain(secret);

      // --password-stdin=VALUE does not smuggle one in either.
      const eq = await runCli(user("user", "add", "carol", `--password-stdin=${secret}`));
      expect(eq.code).toBe(2);
      expect(eq.stderr).not.toContain(secret);

      const list = await cli(user("user", "list"));
      expect(list.out).not.toMatch(/\tcarol\t/);
      expect((await login(server.url, "carol", secret)).status).toBe(401);

      // With --password-stdin, a stray positional is refused, and not echoed.
      const stray = await runCli(user("user", "add", "dave", secret, "--password-stdin"), {
        stdin: PASSWORD,
      });
      expect(stray.code).toBe(2);
      expect(stray.stderr).toMatch(/too many arguments for user add/);
      expect(stray.stderr).not.toContain(secret);
      expect((await login(server.url, "dave", secret)).status).toBe(401);
    });

    it("refuses a common password with password_too_common (exit 2)", async () => {
      const res = await runCli(user("user", "add", "erin", "--password-stdin"), {
        stdin: "Password123!\n",
      });
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/\(password_too_common\)/);
      expect(res.stderr).not.toContain("Password123!");
      await expect(
        cli(user("user", "add", "erin", "--password-stdin"), { stdin: "erin2024!!" }),
      ).rejects.toMatchObject({ code: "password_too_common" });
      expect((await cli(user("user", "list"))).out).not.toMatch(/\terin\t/);
    });

    it("refuses a duplicate name (any case) with user_exists (exit 2)", async () => {
      await cli(user("user", "add", "frank", "--password-stdin"), { stdin: PASSWORD });
      const res = await runCli(user("user", "add", "frank", "--password-stdin"), {
        stdin: "Another-Fine-Password-12",
      });
      expect(res.code).toBe(2);
      expect(res.stderr).toMatch(/\(user_exists\)/);
      await expect(
        cli(user("user", "add", "FRANK", "--password-stdin"), {
          stdin: "Another-Fine-Password-12",
        }),
      ).rejects.toMatchObject({ code: "user_exists" });
      // The first password still stands.
      expect((await login(server.url, "frank", PASSWORD)).status).toBe(200);
    });
  });

  it("user list shows every user with its state and roles, never a hash", async () => {
    await cli(user("user", "add", "gina", "--password-stdin", "--roles", "ops,admin"), {
      stdin: PASSWORD,
    });
    const res = await runCli(user("user", "list"));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^[A-Za-z0-9_-]+\tbob\tactive\t-\t\d{4}-\d\d-\d\dT/m);
    expect(res.stdout).toMatch(/\tgina\tactive\tadmin,ops\t/m);
    expect(res.stdout).not.toContain("$argon2");
    expect(res.stdout.toLowerCase()).not.toContain("argon2");
    expect(res.stdout).not.toContain(PASSWORD);
  });

  it("user disable ends live sessions and blocks login; user enable restores login", async () => {
    await cli(user("user", "add", "hank", "--password-stdin"), { stdin: PASSWORD });
    const token = await loginToken(server.url, "hank", PASSWORD);
    expect((await getSession(server.url, token)).status).toBe(200);

    const disabled = await runCli(user("user", "disable", "hank"));
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toMatch(/disabled user hank/);

    const after = await getSession(server.url, token);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ error: "unauthenticated" });
    // Same answer as a wrong password: nothing says the account exists but is disabled.
    const refused = await login(server.url, "hank", PASSWORD);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: "invalid_credentials" });
    expect(refused.setSession).toBeUndefined();
    expect((await cli(user("user", "list"))).out).toMatch(/\thank\tdisabled\t/);

    const enabled = await cli(user("user", "enable", "hank"));
    expect(enabled.out).toMatch(/enabled user hank/);
    const fresh = await loginToken(server.url, "hank", PASSWORD);
    expect((await getSession(server.url, fresh)).status).toBe(200);
    // Sessions ended by the disable stay ended.
    expect((await getSession(server.url, token)).status).toBe(401);

    const missing = await runCli(user("user", "disable", "nobody-here"));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/\(user_not_found\)/);
  });

  it("user roles --set gives the live session a new id; the old cookie is dead", async () => {
    await cli(user("user", "add", "iris", "--password-stdin"), { stdin: PASSWORD });
    const old = await loginToken(server.url, "iris", PASSWORD);
    const before = await getSession(server.url, old);
    expect(before.status).toBe(200);
    expect(before.setSession).toBeUndefined();
    expect(before.body).toMatchObject({ user: { roles: [] } });

    const res = await runCli(user("user", "roles", "iris", "--set", "admin"));
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/roles of iris: admin/);

    const next = await getSession(server.url, old);
    expect(next.status).toBe(200);
    expect(next.body).toMatchObject({ user: { username: "iris", roles: ["admin"] } });
    const renewed = next.setSession;
    expect(renewed).toMatch(TOKEN_SHAPE);
    expect(renewed).not.toBe(old);
    const cookie = next.headers.getSetCookie()[0] as string;
    expect(cookie).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Strict/);
    expect(cookie).not.toMatch(/Domain=/i);
    expect((next.body as { session: { id: string } }).session.id).not.toBe(
      (before.body as { session: { id: string } }).session.id,
    );

    const stale = await getSession(server.url, old);
    expect(stale.status).toBe(401);
    const current = await getSession(server.url, renewed as string);
    expect(current.status).toBe(200);
    expect(current.setSession).toBeUndefined();
  });

  it("user password --password-stdin sets a new password and ends every session", async () => {
    await cli(user("user", "add", "jack", "--password-stdin"), { stdin: PASSWORD });
    const token = await loginToken(server.url, "jack", PASSWORD);
    const newPassword = "Marble-Orchard-Tundra-64";
    const res = await cli(user("user", "password", "jack", "--password-stdin"), {
      stdin: `${newPassword}\n`,
    });
    expect(res.code).toBe(0);
    expect(res.out).not.toContain(newPassword);
    expect((await getSession(server.url, token)).status).toBe(401);
    expect((await login(server.url, "jack", PASSWORD)).status).toBe(401);
    expect((await login(server.url, "jack", newPassword)).status).toBe(200);
  });
});

describe("tessera serve: refusals and settings", () => {
  it("refuses --host 0.0.0.0 without --trust-proxy, before touching anything", async () => {
    const data = tempDataDir();
    const res = await runCli(["serve", "--port", "0", "--host", "0.0.0.0", "--data", data], {
      timeoutMs: 10_000,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/non-loopback address 0\.0\.0\.0/);
    expect(res.stderr).toMatch(/--trust-proxy/);
    expect(res.stdout).not.toMatch(/listening/i);
    expect(existsSync(join(data, "tessera.db"))).toBe(false);
  });

  it("serves on 0.0.0.0 with --trust-proxy", async () => {
    const server = await startServer([
      "--host",
      "0.0.0.0",
      "--trust-proxy",
      "--data",
      tempDataDir(),
    ]);
    try {
      expect(server.stdout()).toMatch(/Tessera listening on http:\/\/0\.0\.0\.0:\d+/);
      const health = await http(server.url, "GET", "/healthz");
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: "ok" });
    } finally {
      await server.stop();
    }
  });

  it.each<{ name: string; args: string[]; env: Record<string, string>; names: RegExp }>([
    { name: "--port 70000", args: ["--port", "70000"], env: {}, names: /\bport\b.*70000/ },
    {
      name: "TESSERA_SESSION_IDLE_TIMEOUT=abc",
      args: [],
      env: { TESSERA_SESSION_IDLE_TIMEOUT: "abc" },
      names: /TESSERA_SESSION_IDLE_TIMEOUT/,
    },
  ])("exits 2 on an invalid setting ($name), naming it", async ({ args, env, names }) => {
    const data = tempDataDir();
    // --port 0 first (a later --port wins): a wrongly accepted setting must not take :4000.
    const res = await runCli(["serve", "--port", "0", "--data", data, ...args], {
      env,
      timeoutMs: 10_000,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(names);
    expect(res.stderr).toMatch(/\(config_invalid\)/);
    expect(res.stdout).not.toMatch(/listening/i);
    expect(existsSync(join(data, "tessera.db"))).toBe(false);
  });

  // In-process (user list, so a wrongly accepted setting would not start a server here).
  it.each<{ setting: string; args: string[]; env?: NodeJS.ProcessEnv; names: string }>([
    { setting: "--port abc", args: ["--port", "abc"], names: "port" },
    { setting: "--port -1", args: ["--port", "-1"], names: "port" },
    { setting: "--port (no value)", args: ["--port"], names: "--port needs a value" },
    { setting: "--log-level loud", args: ["--log-level", "loud"], names: "log-level" },
    { setting: "--redis http:", args: ["--redis", "http://127.0.0.1:6379"], names: "redis" },
    { setting: "--db mysql:", args: ["--db", "mysql://db"], names: "db" },
    {
      setting: "--issuer with query",
      args: ["--issuer", "http://a.example/?x=1"],
      names: "issuer",
    },
    { setting: "--demo=maybe", args: ["--demo=maybe"], names: "demo" },
    {
      setting: "--argon2-memory-cost below OWASP",
      args: ["--argon2-memory-cost", "1024"],
      names: "argon2-memory-cost",
    },
    {
      setting: "TESSERA_LOGIN_ACCOUNT_LIMIT=0",
      args: [],
      env: { TESSERA_LOGIN_ACCOUNT_LIMIT: "0" },
      names: "TESSERA_LOGIN_ACCOUNT_LIMIT",
    },
    {
      setting: "idle timeout above absolute timeout",
      args: ["--session-idle-timeout", "7200", "--session-absolute-timeout", "3600"],
      names: "session-idle-timeout",
    },
  ])("rejects $setting with config_invalid, naming it", async ({ args, env, names }) => {
    const data = tempDataDir();
    await expect(
      cli(["user", "list", "--data", data, ...args], env === undefined ? {} : { env }),
    ).rejects.toMatchObject({
      code: "config_invalid",
      message: expect.stringContaining(names),
    });
  });

  it("flags win over the environment", async () => {
    const data = tempDataDir();
    const res = await runCli(["user", "list", "--init", "--data", data, "--port", "4001"], {
      env: { TESSERA_PORT: "not-a-port" },
    });
    expect(res.stderr).toBe(`tessera: created a new installation in ${data} (sqlite)\n`);
    expect(res.code).toBe(0);
  });
});

describe("tessera: unknown commands and options", () => {
  it.each([
    { cmd: "frobnicate", says: /unknown command "frobnicate"/ },
    { cmd: "serve --port 0 --frobnicate", says: /unknown option --frobnicate\b/ },
    { cmd: "serve --port 0 --prot 4000", says: /unknown option --prot\b/ },
    { cmd: "user list --frobnicate", says: /unknown option --frobnicate\b/ },
    { cmd: "user frobnicate", says: /unknown user command "frobnicate"/ },
    { cmd: "user disable", says: /needs NAME/ },
  ])("tessera $cmd → exit 2: $says", async ({ cmd, says }) => {
    // --port 0 on serve: a wrongly accepted option must not start a server on :4000.
    const data = tempDataDir();
    const res = await runCli([...cmd.split(" "), "--data", data], { timeoutMs: 10_000 });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(says);
    expect(res.stderr).toMatch(/^tessera: /);
    expect(res.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    expect(res.stdout).not.toMatch(/listening/i);
  });

  it("help prints the usage and exits 0", async () => {
    const res = await runCli(["help"]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^Usage: tessera <command>/);
    expect(res.stdout).toMatch(/user add NAME --password-stdin/);
  });
});
