/**
 * Which data a command uses, on the real binary from a temp working directory (issue 15,
 * item 4). A command other than `serve` that finds no installation says where it looked
 * and how to point at the right one, exits 2 and creates nothing (it used to create a
 * fresh `.tessera/` with its own secret, unknown to the running server); `--init` lets it
 * create one; `serve` still creates one on first start; every command that uses data
 * names it in one line on stderr, so stdout stays the command's own output.
 */
import { mkdirSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  clientSecretOf,
  removeTempDirs,
  runCli,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

const API = "https://api.example.test";
const PASSWORD = "Lantern-Saffron-Meadow-58";

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

/** A fresh empty directory, by its real path (what the child sees as its cwd). */
const tempDir = () => realpathSync(tempDataDir());

/** Everything under `dir`, relative: to show that nothing was created. */
const contents = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();

const HOW_TO_POINT =
  "Run the command where the server's data is, or point at it with --data DIR (TESSERA_DATA) " +
  "or --db URL (TESSERA_DB). To create a new installation there instead, add --init. " +
  "(installation_not_found)\n";

describe("a command other than serve, where there is no installation", () => {
  it.each<{ name: string; args: string[]; stdin?: string }>([
    { name: "client list", args: ["client", "list"] },
    { name: "user list", args: ["user", "list"] },
    { name: "keys list", args: ["keys", "list"] },
    { name: "keys rotate", args: ["keys", "rotate"] },
    {
      name: "client add",
      args: ["client", "add", "svc", "--grants", "client_credentials", "--audience", API],
    },
    { name: "client remove", args: ["client", "remove", "svc"] },
    { name: "user add", args: ["user", "add", "bob", "--password-stdin"], stdin: PASSWORD },
    { name: "user disable", args: ["user", "disable", "bob"] },
  ])(
    "tessera $name: exit 2, says where it looked and how to point elsewhere, creates nothing",
    async ({ args, stdin }) => {
      const cwd = tempDir();
      const res = await runCli(args, { cwd, ...(stdin === undefined ? {} : { stdin }) });
      expect(res.code).toBe(2);
      expect(res.stdout).toBe("");
      expect(res.stderr).toBe(
        `tessera: no Tessera installation found: ${cwd}/.tessera/tessera.db does not exist ` +
          `(data directory ${cwd}/.tessera, from the default ./.tessera, in the current ` +
          `directory ${cwd}). ${HOW_TO_POINT}`,
      );
      expect(contents(cwd)).toEqual([]);
    },
  );

  it("names --data, TESSERA_DATA or --db when that is where it looked; creates nothing there", async () => {
    const empty = tempDir();
    const byFlag = await runCli(["client", "list", "--data", empty]);
    expect(byFlag.code).toBe(2);
    expect(byFlag.stderr).toContain(
      `${empty}/tessera.db does not exist (data directory ${empty}, from --data).`,
    );
    expect(contents(empty)).toEqual([]);

    const parent = tempDir();
    const missing = join(parent, "nowhere");
    const byEnv = await runCli(["user", "list"], { env: { TESSERA_DATA: missing } });
    expect(byEnv.code).toBe(2);
    expect(byEnv.stderr).toContain(`(data directory ${missing}, from TESSERA_DATA).`);
    expect(contents(parent)).toEqual([]);

    const byDb = await runCli(["user", "list", "--db", `sqlite:${missing}/x.db`], {
      cwd: parent,
    });
    expect(byDb.code).toBe(2);
    expect(byDb.stderr).toContain(`${missing}/x.db does not exist (--db (TESSERA_DB)).`);
    expect(contents(parent)).toEqual([]);
  });

  it("a database nobody made an installation in is refused; no secret is made for it", async () => {
    const data = tempDir();
    writeFileSync(join(data, "tessera.db"), ""); // an empty file is an empty SQLite database
    const res = await runCli(["client", "list", "--data", data]);
    expect(res.code).toBe(2);
    expect(res.stderr).toBe(
      `tessera: no Tessera installation found in ${data} (sqlite): the database has no ` +
        "installation record (no server has started on it, and no command was given " +
        `--init). ${HOW_TO_POINT}`,
    );
    expect(contents(data)).not.toContain("secret.key");
  });

  it("an installation without its secret.key is refused, by serve too; no new secret replaces it", async () => {
    const data = tempDir();
    expect((await runCli(["user", "list", "--init", "--data", data])).code).toBe(0);
    rmSync(join(data, "secret.key"));
    for (const args of [
      ["client", "list"],
      ["serve", "--port", "0"],
    ]) {
      const res = await runCli([...args, "--data", data], { timeoutMs: 10_000 });
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toContain(
        `tessera: ${data}/secret.key does not exist, but the installation in ${data}/tessera.db ` +
          "was made with one",
      );
      expect(res.stdout).not.toMatch(/listening/i);
      expect(contents(data)).not.toContain("secret.key");
    }
  });

  it("token decode and help use no data: nothing created, nothing said about data", async () => {
    const cwd = tempDir();
    const decode = await runCli(["token", "decode", "a.b.c"], { cwd });
    expect(decode.stderr).not.toMatch(/data/);
    expect((await runCli(["help"], { cwd })).code).toBe(0);
    expect(contents(cwd)).toEqual([]);
  });
});

describe("creating an installation", () => {
  it("serve creates one on first start, in ./.tessera of its working directory, and says so", async () => {
    const cwd = tempDir();
    const first = await startServer([], {}, { cwd });
    await expect
      .poll(() => first.stderr(), { timeout: 5_000 })
      .toContain(`tessera: created a new installation in ${cwd}/.tessera (sqlite)\n`);
    expect(contents(cwd)).toEqual(expect.arrayContaining([".tessera", ".tessera/secret.key"]));
    await first.stop();

    const again = await startServer([], {}, { cwd });
    await expect
      .poll(() => again.stderr(), { timeout: 5_000 })
      .toContain(`tessera: using data in ${cwd}/.tessera (sqlite)\n`);
    expect(again.stderr()).not.toContain("created");
    await again.stop();

    // The CLI from the same directory finds it; from elsewhere, --data points at it.
    const here = await runCli(["user", "list"], { cwd });
    expect(here.code).toBe(0);
    expect(here.stderr).toBe(`tessera: using data in ${cwd}/.tessera (sqlite)\n`);
    const elsewhere = tempDir();
    const there = await runCli(["user", "list", "--data", `${cwd}/.tessera`], { cwd: elsewhere });
    expect(there.stderr).toBe(`tessera: using data in ${cwd}/.tessera (sqlite)\n`);
    expect(contents(elsewhere)).toEqual([]);
  });

  it("--init lets another command create one; then every command uses it and says so on stderr only", async () => {
    const cwd = tempDir();
    const added = await runCli(
      ["client", "add", "svc", "--grants", "client_credentials", "--audience", API, "--init"],
      { cwd },
    );
    expect(added.code).toBe(0);
    expect(added.stderr).toBe(`tessera: created a new installation in ${cwd}/.tessera (sqlite)\n`);
    const secret = clientSecretOf(added.stdout);
    expect(added.stderr).not.toContain(secret);

    const list = await runCli(["client", "list"], { cwd });
    expect(list.code).toBe(0);
    expect(list.stderr).toBe(`tessera: using data in ${cwd}/.tessera (sqlite)\n`);
    // stdout is the command's output alone: one client, tab-separated.
    expect(list.stdout).toMatch(/^svc\tconfidential\tclient_credentials\t[^\n]*\n$/);

    // --init on an existing installation only uses it.
    const again = await runCli(["client", "list", "--init"], { cwd });
    expect(again.stderr).toBe(`tessera: using data in ${cwd}/.tessera (sqlite)\n`);
    expect(again.stdout).toBe(list.stdout);

    // The server started on it afterwards knows the client (the same data, the same secret).
    const server = await startServer([], {}, { cwd });
    const token = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=client_credentials&client_id=svc&client_secret=${secret}`,
    });
    expect(token.status).toBe(200);
    await server.stop();
  });

  it("names a database outside the data directory, and a secret from the environment only by name", async () => {
    const data = tempDir();
    const elsewhere = tempDir();
    mkdirSync(join(elsewhere, "db"));
    const db = `sqlite:${elsewhere}/db/auth.db`;
    const made = await runCli(["user", "list", "--init", "--data", data, "--db", db]);
    expect(made.stderr).toBe(
      `tessera: created a new installation in ${elsewhere}/db/auth.db (sqlite; secret.key in ${data})\n`,
    );
    const SECRET = "an-environment-secret-of-32-bytes-or-more";
    const env = await runCli(["user", "list", "--init", "--data", tempDir()], {
      env: { TESSERA_SECRET: SECRET },
    });
    expect(env.code).toBe(0);
    expect(env.stderr).toMatch(/ \(sqlite; secret from TESSERA_SECRET\)\n$/);
    expect(env.stderr).not.toContain(SECRET);
  });
});
