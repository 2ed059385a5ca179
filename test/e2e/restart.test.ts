/**
 * SQLite durability across restarts of a real `tessera serve` process: users created by
 * the CLI, sessions, logouts and the demo user all live in <data>/tessera.db and survive
 * a SIGTERM and a fresh start on the same --data.
 */
import { afterAll, describe, expect, it } from "vitest";
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

const PASSWORD = "Velvet-Harbor-Quince-73";

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

/** Stops a server and checks it shut down by itself on SIGTERM (graceful close). */
async function stopGracefully(server: ServerProcess): Promise<void> {
  const exit = await server.stop();
  expect(exit, `server output:\n${server.stdout()}\n${server.stderr()}`).toEqual({
    code: 0,
    signal: null,
    forced: false,
  });
}

describe("restart on the same --data (SQLite)", () => {
  it("keeps users and sessions; a logout after the restart ends the session", async () => {
    const data = tempDataDir();
    const first = await startServer(["--data", data]);

    // The CLI writes to the same SQLite file while the server runs.
    const added = await runCli(["user", "add", "bob", "--password-stdin", "--data", data], {
      stdin: `${PASSWORD}\n`,
    });
    expect(added.stderr).toBe(`tessera: using data in ${data} (sqlite)\n`);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/created user bob/);

    const loggedIn = await login(first.url, "bob", PASSWORD);
    expect(loggedIn.status).toBe(200);
    const token = loggedIn.setSession as string;
    expect(token).toMatch(TOKEN_SHAPE);
    const before = await getSession(first.url, token);
    expect(before.status).toBe(200);
    await stopGracefully(first);

    const second = await startServer(["--data", data]);
    expect(second.port).not.toBe(0);
    const after = await getSession(second.url, token);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({
      user: { username: "bob", id: (loggedIn.body as { user: { id: string } }).user.id },
      session: { id: (before.body as { session: { id: string } }).session.id },
    });

    // A cross-site logout is refused and leaves the session alive.
    const forged = await http(second.url, "POST", "/logout", {
      token,
      headers: { origin: "https://evil.example" },
    });
    expect(forged.status).toBe(403);
    expect(forged.body).toMatchObject({ error: "forbidden_origin" });
    expect((await getSession(second.url, token)).status).toBe(200);

    const out = await http(second.url, "POST", "/logout", { token });
    expect(out.status).toBe(204);
    expect(out.setSession).toBe("");
    expect(out.headers.getSetCookie()[0]).toMatch(/Max-Age=0/);
    const gone = await getSession(second.url, token);
    expect(gone.status).toBe(401);
    expect(gone.body).toMatchObject({ error: "unauthenticated" });
    await stopGracefully(second);

    // The logout itself was durable, and neither server ever logged a secret.
    const third = await startServer(["--data", data]);
    expect((await getSession(third.url, token)).status).toBe(401);
    expect(await loginToken(third.url, "bob", PASSWORD)).not.toBe(token);
    await stopGracefully(third);
    for (const s of [first, second, third]) {
      const logs = s.stdout() + s.stderr();
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(PASSWORD);
    }
  });

  it("serve --demo prints the demo password once, on first start only", async () => {
    const data = tempDataDir();
    const first = await startServer(["--data", data, "--demo"]);
    const printed = [...first.stdout().matchAll(/password "([^"]+)"/g)].map((m) => m[1]);
    expect(printed).toHaveLength(1);
    const password = printed[0] as string;
    expect(password.length).toBeGreaterThanOrEqual(16);
    // Exactly once in everything the process wrote (never in a log line too).
    expect((first.stdout() + first.stderr()).split(password)).toHaveLength(2);
    const res = await login(first.url, "demo", password);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ user: { username: "demo" } });
    await stopGracefully(first);

    const second = await startServer(["--data", data, "--demo"]);
    const text = second.stdout() + second.stderr();
    expect(text).toMatch(/Demo user "demo" exists/);
    expect(text).not.toContain(password);
    expect(text).not.toMatch(/password "/);
    // Still the same demo user, with the password printed the first time.
    expect((await login(second.url, "demo", password)).status).toBe(200);
    await stopGracefully(second);
  });
});
