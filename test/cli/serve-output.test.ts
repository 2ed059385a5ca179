/**
 * What `serve` prints (issue 15, item 7): on a terminal, readable log lines; piped, pino's
 * JSON lines (unchanged shape); `--log-format` / `TESSERA_LOG_FORMAT` forces either. The
 * banner and the log line agree on the address. The terminal is a real one: the server
 * runs under `script` (util-linux), which gives it a pseudo-terminal.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
  CLI_PATH,
  childEnv,
  http,
  removeTempDirs,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

function which(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const HAVE_SCRIPT = which("script");
if (!HAVE_SCRIPT) {
  console.warn("WARNING: `script` (util-linux) not found: the terminal tests are skipped");
}

const ours = new Set<ChildProcess>();
afterEach(() => {
  for (const child of ours) {
    for (const pid of childrenOf(child.pid as number)) process.kill(pid, "SIGKILL");
    child.kill("SIGKILL");
  }
  ours.clear();
});

/** PIDs whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) {
        out.push(Number(entry));
      }
    } catch {
      // gone meanwhile
    }
  }
  return out;
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

const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;
const TIME = String.raw`\d\d:\d\d:\d\d\.\d{3}`;

/** `tessera serve` on a pseudo-terminal; its output as the terminal shows it (CR LF → LF). */
async function serveOnTerminal(
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ port: number; output(): string; stop(): Promise<void> }> {
  const command = [process.execPath, CLI_PATH, "serve", "--port", "0", "--data", tempDataDir()]
    .concat(args)
    .map(quote)
    .join(" ");
  const child = spawn("script", ["-qfec", `exec ${command}`, "/dev/null"], {
    env: childEnv(env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  ours.add(child);
  let raw = "";
  child.stdout?.setEncoding("utf8").on("data", (c: string) => {
    raw += c;
  });
  const output = () => raw.replaceAll("\r\n", "\n");
  await expect
    .poll(output, { timeout: 15_000, interval: 50 })
    .toMatch(/Tessera listening on http:\/\/localhost:\d+/);
  const port = Number(/Tessera listening on http:\/\/localhost:(\d+)/.exec(output())?.[1]);
  return {
    port,
    output,
    async stop() {
      for (const pid of childrenOf(child.pid as number)) process.kill(pid, "SIGTERM");
      await expect.poll(() => portRefuses(port), { timeout: 10_000 }).toBe(true);
    },
  };
}

describe.skipIf(!HAVE_SCRIPT)("serve on a terminal", () => {
  it("prints readable log lines that agree with the banner on the address", async () => {
    const server = await serveOnTerminal();
    const url = `http://localhost:${server.port}`;
    // At the default level a 2xx writes no request line, a 4xx writes one (request-log.ts).
    await http(`http://127.0.0.1:${server.port}`, "GET", "/healthz");
    await http(`http://127.0.0.1:${server.port}`, "GET", "/no-such-page");
    await expect
      .poll(server.output, { timeout: 5_000 })
      .toMatch(
        new RegExp(
          `^${TIME} INFO  \\[req-\\w+\\] request completed GET /no-such-page from 127\\.0\\.0\\.1 404 in \\d+\\.\\d ms$`,
          "m",
        ),
      );
    const out = server.output();
    expect(out).toContain(`Tessera listening on ${url} (issuer ${url})\n`);
    expect(out).toMatch(
      new RegExp(`^${TIME} INFO  listening on ${url} \\(127\\.0\\.0\\.1:${server.port}\\)$`, "m"),
    );
    expect(out).not.toContain("/healthz");
    expect(out).not.toContain("incoming request");
    expect(out).toMatch(/^tessera: created a new installation in \S+ \(sqlite\)$/m);
    expect(out).not.toContain('{"level"');
    // Never the default port: the server listens on its free port (which may itself start
    // with 4000, e.g. 40005, so the whole port number is compared).
    expect(out).not.toMatch(/127\.0\.0\.1:4000(?!\d)/);
    await server.stop();
    // The pseudo-terminal may hand over the last lines after the port has closed.
    await expect
      .poll(server.output, { timeout: 5_000 })
      .toMatch(new RegExp(`^${TIME} INFO  shutting down signal=SIGTERM$`, "m"));
  });

  it("prints JSON on a terminal when told to (TESSERA_LOG_FORMAT=json)", async () => {
    const server = await serveOnTerminal([], { TESSERA_LOG_FORMAT: "json" });
    await expect.poll(server.output, { timeout: 5_000 }).toContain('"msg":"listening on');
    expect(server.output()).not.toMatch(new RegExp(`^${TIME} INFO`, "m"));
    await server.stop();
  });
});

describe("serve with its output piped", () => {
  it("prints pino's JSON lines, unchanged in shape, naming the banner's address", async () => {
    const server = await startServer(["--data", tempDataDir()]);
    const url = `http://localhost:${server.port}`;
    await expect.poll(() => server.stdout(), { timeout: 5_000 }).toContain('"msg":"listening on');
    const lines = server
      .stdout()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const listening = lines.find((l) => String(l.msg).startsWith("listening on"));
    expect(listening).toEqual({
      level: 30,
      time: expect.any(Number),
      pid: server.pid,
      hostname: expect.any(String),
      msg: `listening on ${url} (127.0.0.1:${server.port})`,
    });
    expect(server.stdout()).toContain(`Tessera listening on ${url} (issuer ${url})\n`);
    await server.stop();
  });

  it("prints readable lines when told to (--log-format pretty)", async () => {
    const server = await startServer(["--data", tempDataDir(), "--log-format", "pretty"]);
    await expect
      .poll(() => server.stdout(), { timeout: 5_000 })
      .toMatch(new RegExp(`^${TIME} INFO  listening on http://localhost:${server.port} `, "m"));
    expect(server.stdout()).not.toContain('{"level"');
    await server.stop();
  });
});
