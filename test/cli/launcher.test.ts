/**
 * `npm start` runs the server as `npm → sh -c "node … serve" → node`, and killing npm's PID
 * left the server running (issue 15, item 7): SIGTERM reaches the shell only (Debian's dash
 * neither execs the script's command nor passes the signal on), SIGKILL nobody. The server
 * now follows the chain up to npm (src/cli/launcher.ts) and shuts down when it breaks.
 *
 * The real thing first: a real `npm start` in a temp project, npm killed with SIGTERM and
 * with SIGKILL; the server must exit by itself and free its port. Then the chain logic on
 * a made-up process table.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  chainIntact,
  followLauncher,
  launcherChain,
  type ProcessTable,
  procTable,
} from "../../src/cli/launcher.js";
import { CLI_PATH, childEnv, removeTempDirs, tempDataDir } from "../support/process.js";

/** Processes this file started (npm, and what it runs): killed if a test leaves one. */
const ours = new Set<number>();

afterEach(() => {
  for (const pid of ours) {
    if (!gone(pid)) process.kill(pid, "SIGKILL");
  }
  ours.clear();
});
afterAll(() => removeTempDirs());

/** Exited (a zombie counts: it only waits for its parent to read its status). */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(true));
  });
}

/** The environment of a developer at a terminal: none of the npm variables of this test run. */
function terminalEnv(): NodeJS.ProcessEnv {
  const env = childEnv({ npm_config_update_notifier: "false" });
  for (const key of Object.keys(env)) {
    if (key.startsWith("npm_") && key !== "npm_config_update_notifier") delete env[key];
    if (key === "INIT_CWD") delete env[key];
  }
  return env;
}

interface NpmStart {
  npm: ChildProcess;
  output(): string;
  server: { pid: number; port: number; shell: number };
}

/** `npm start` in a temp project whose start script runs `tessera serve`, as ours does. */
async function npmStart(args: string[] = []): Promise<NpmStart> {
  const project = tempDataDir();
  const data = join(project, "data");
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({
      name: "launcher-probe",
      version: "1.0.0",
      private: true,
      scripts: { start: `node '${CLI_PATH}' serve --port 0 --data '${data}'` },
    }),
  );
  const npm = spawn("npm", ["start", ...(args.length > 0 ? ["--", ...args] : [])], {
    cwd: project,
    env: terminalEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  ours.add(npm.pid as number);
  let out = "";
  npm.stdout?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  npm.stderr?.setEncoding("utf8").on("data", (c: string) => {
    out += c;
  });
  await expect
    .poll(() => out, { timeout: 15_000, interval: 50 })
    .toMatch(/Tessera listening on http:\/\/localhost:\d+[\s\S]*"pid":\d+/);
  const port = Number(/Tessera listening on http:\/\/localhost:(\d+)/.exec(out)?.[1]);
  const pid = Number(/"pid":(\d+)/.exec(out)?.[1]);
  const shell = procTable.parentOf(pid) as number;
  ours.add(pid);
  ours.add(shell);
  // The chain this test is about: npm → sh -c "node … serve" → node.
  expect(procTable.argvOf(shell)?.slice(1, 2)).toEqual(["-c"]);
  expect(procTable.parentOf(shell)).toBe(npm.pid);
  return { npm, output: () => out, server: { pid, port, shell } };
}

describe("a server started by npm start stops when npm is killed", () => {
  for (const [signal, args] of [
    ["SIGTERM", []],
    ["SIGKILL", []],
    // npm appends them to the script: `sh -c "node … serve --port 0 … --log-level info"`.
    ["SIGKILL", ["--log-level", "info"]],
  ] as const) {
    const how = args.length > 0 ? `npm start -- ${args.join(" ")}` : "npm start";
    it(`${how}, npm killed with ${signal}: the server shuts down by itself and frees its port`, async () => {
      const { npm, output, server } = await npmStart([...args]);
      expect(await portRefuses(server.port)).toBe(false);
      npm.kill(signal);
      // Bounded waits for processes to go, not timing assertions (the check runs every second).
      await expect.poll(() => gone(server.pid), { timeout: 10_000, interval: 100 }).toBe(true);
      await expect.poll(() => portRefuses(server.port), { timeout: 5_000 }).toBe(true);
      await expect.poll(() => gone(server.shell), { timeout: 5_000 }).toBe(true);
      // A graceful shutdown, saying why.
      expect(output()).toMatch(
        /"msg":"the package manager that started this server \(pid \d+\) has exited: shutting down"/,
      );
    }, 40_000);
  }
});

/** A process table to edit: pid → [ppid, argv]. */
function table(self: number, procs: Record<number, [number, string[]]>) {
  const t: ProcessTable & { self: number; procs: typeof procs } = {
    self,
    procs,
    ppid: () => t.self,
    parentOf: (pid) => t.procs[pid]?.[0],
    argvOf: (pid) => t.procs[pid]?.[1],
  };
  return t;
}

const SCRIPT = "node dist/cli/main.js serve --demo";
const NPM_ENV = { npm_lifecycle_event: "start", npm_lifecycle_script: SCRIPT };

describe("launcherChain / chainIntact", () => {
  it("npm → sh -c SCRIPT → us: follows the shell and npm", () => {
    const t = table(20, { 20: [10, ["sh", "-c", SCRIPT]], 10: [5, ["npm start"]] });
    const chain = launcherChain(NPM_ENV, t);
    expect(chain).toEqual([20, 10]);
    expect(chainIntact(chain as number[], t)).toBe(true);
    // npm SIGKILLed: the shell is re-parented (to init or a subreaper); we are not.
    t.procs[20] = [1, ["sh", "-c", SCRIPT]];
    expect(chainIntact(chain as number[], t)).toBe(false);
  });

  it("npm start -- ARGS and npx tessera serve: the shell runs the script with arguments", () => {
    const t = table(20, { 20: [10, ["sh", "-c", `${SCRIPT} --port 5000`]], 10: [5, ["npm"]] });
    expect(launcherChain(NPM_ENV, t)).toEqual([20, 10]);
    const npx = table(20, { 20: [10, ["sh", "-c", "'tessera' serve"]], 10: [5, ["npm"]] });
    const env = { npm_lifecycle_event: "npx", npm_lifecycle_script: "'tessera'" };
    expect(launcherChain(env, npx)).toEqual([20, 10]);
    // Another command that merely starts like the script is not it.
    const other = table(20, { 20: [10, ["sh", "-c", `${SCRIPT}x`]], 10: [5, ["npm"]] });
    expect(launcherChain(NPM_ENV, other)).toEqual([20]);
  });

  it("the shell killed (npm's SIGTERM): our parent changes", () => {
    const t = table(20, { 20: [10, ["sh", "-c", SCRIPT]], 10: [5, ["npm start"]] });
    const chain = launcherChain(NPM_ENV, t) as number[];
    t.self = 1;
    expect(chainIntact(chain, t)).toBe(false);
  });

  it("npm → us directly (a shell that execs, or `exec node …`): follows npm", () => {
    const t = table(10, { 10: [5, ["npm start"]] });
    expect(launcherChain(NPM_ENV, t)).toEqual([10]);
  });

  it("no /proc (not Linux): follows the parent alone", () => {
    const t: ProcessTable = { ppid: () => 20, parentOf: () => undefined, argvOf: () => undefined };
    expect(launcherChain(NPM_ENV, t)).toEqual([20]);
  });

  it("not started by a package manager, or already orphaned: nothing to follow", () => {
    const t = table(20, { 20: [10, ["sh", "-c", SCRIPT]] });
    expect(launcherChain({}, t)).toBeUndefined();
    expect(launcherChain({ npm_lifecycle_event: "" }, t)).toBeUndefined();
    expect(launcherChain(NPM_ENV, table(1, {}))).toBeUndefined();
  });

  it("followLauncher calls back once, with npm's pid, when the chain breaks", async () => {
    const t = table(20, { 20: [10, ["sh", "-c", SCRIPT]], 10: [5, ["npm start"]] });
    const calls: number[] = [];
    const stop = followLauncher(NPM_ENV, (pid) => calls.push(pid), { table: t, everyMs: 5 });
    expect(stop).toBeTypeOf("function");
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toEqual([]);
    t.procs[20] = [1, ["sh", "-c", SCRIPT]];
    await expect.poll(() => calls, { timeout: 1_000, interval: 5 }).toEqual([10]);
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toEqual([10]);
    stop?.();
    expect(followLauncher({}, () => {}, { table: t })).toBeUndefined();
  });
});
