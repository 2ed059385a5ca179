/**
 * Real processes for end-to-end tests: `node dist/cli/main.js ...` (built by `npm test`'s
 * `pretest`), real sockets, Node's fetch.
 *
 * - `startServer` runs `tessera serve --port 0 ...`, waits (bounded) for the
 *   "Tessera listening on http://HOST:PORT" line and returns its URL.
 * - `runCli` runs any other command to completion (bounded) with optional stdin.
 * - Every spawned process is tracked; `stopAllServers()` (call it in afterAll) and an
 *   exit hook make sure none outlives the test file.
 * - The child's environment is the test runner's minus every `TESSERA_*` variable, so a
 *   developer's own settings cannot leak into a test; pass `env` to set some.
 *
 * HTTP helpers at the bottom carry the `__Host-session` cookie by hand: it is `Secure`, and
 * Node's fetch has no cookie jar anyway. They send no `Origin` header (a non-browser
 * client), unless a test passes one to exercise the CSRF check.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The built CLI entry point. */
export const CLI_PATH = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));

/** How long a server may take to print its listening line (argon2 warm-up included). */
const START_TIMEOUT_MS = 15_000;
/** How long a stopped server may take to exit after SIGTERM before it gets SIGKILL. */
const STOP_TIMEOUT_MS = 5_000;
/** How long a one-shot CLI command may run. */
const CLI_TIMEOUT_MS = 15_000;

const LISTENING = /Tessera listening on (https?):\/\/(\[[^\]]+\]|[^\s:/]+):(\d+)/;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when SIGTERM was not enough and the process had to be SIGKILLed. */
  forced: boolean;
}

export interface ServerProcess {
  /** Base URL to reach the server at, always over loopback: `http://127.0.0.1:PORT`. */
  url: string;
  port: number;
  pid: number;
  /** Everything the process wrote so far. */
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then SIGKILL after a bound; resolves when the process is gone. Idempotent. */
  stop(): Promise<ExitInfo>;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment for a child: ours without `TESSERA_*`, plus `extra`. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("TESSERA_")) env[k] = v;
  }
  return { ...env, ...extra };
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  live.add(child);
  child.once("exit", () => live.delete(child));
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // Last resort if a test file forgot stopAllServers(): never leave a server behind.
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once("exit", onExit);
  });
}

async function terminate(child: ChildProcess): Promise<ExitInfo> {
  let forced = false;
  if (!exited(child)) {
    child.kill("SIGTERM");
    if (!(await waitForExit(child, STOP_TIMEOUT_MS))) {
      forced = true;
      child.kill("SIGKILL");
      await waitForExit(child, STOP_TIMEOUT_MS);
    }
  }
  return { code: child.exitCode, signal: child.signalCode, forced };
}

/**
 * Starts `tessera serve --port 0 <args>` and resolves once it listens. Rejects (with the
 * process's output) if it exits first or does not listen within the bound.
 */
export function startServer(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { cwd?: string } = {},
): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI_PATH, "serve", "--port", "0", ...args], {
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  track(child);
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    err += chunk;
  });
  const stop = () => terminate(child);

  return new Promise<ServerProcess>((resolve, reject) => {
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void stop().then(() =>
        reject(
          new Error(`tessera serve ${args.join(" ")}: ${why}\nstdout:\n${out}\nstderr:\n${err}`),
        ),
      );
    };
    const timer = setTimeout(
      () => fail(`not listening within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    child.once("error", (e) => fail(`could not be spawned: ${e.message}`));
    child.once("exit", (code, signal) =>
      fail(`exited before listening (${signal ?? `code ${code}`})`),
    );
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      if (settled) return;
      const m = LISTENING.exec(out);
      if (m === null) return;
      settled = true;
      clearTimeout(timer);
      const port = Number(m[3]);
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        pid: child.pid as number,
        stdout: () => out,
        stderr: () => err,
        stop,
      });
    });
  });
}

/** Stops every server and CLI process still running (for afterAll). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...live].map((c) => terminate(c)));
}

/** Runs `tessera <args>` to completion. stdin is closed at once unless given. */
export function runCli(
  args: readonly string[],
  options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    env: childEnv(options.env),
    stdio: ["pipe", "pipe", "pipe"],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  track(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8");
  child.stderr?.setEncoding("utf8");
  child.stdout?.on("data", (c: string) => {
    stdout += c;
  });
  child.stderr?.on("data", (c: string) => {
    stderr += c;
  });
  // A command that exits without reading stdin closes the pipe: not an error here.
  child.stdin?.on("error", () => {});
  child.stdin?.end(options.stdin ?? "");
  const limit = options.timeoutMs ?? CLI_TIMEOUT_MS;
  return new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `tessera ${args.join(" ")}: still running after ${limit} ms\n${stdout}\n${stderr}`,
        ),
      );
    }, limit);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // "close", not "exit": every byte of stdout/stderr has been read by then.
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const tempDirs: string[] = [];

/** A fresh, empty directory under the OS temp dir, for one server's `--data`. */
export function tempDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tessera-e2e-"));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory `tempDataDir` made (after the servers using them stopped). */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

// ── HTTP against a spawned server ──────────────────────────────────────────────────────

export interface HttpResult {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined when there is none. */
  body: unknown;
  /** The `__Host-session` value the response set ("" when it cleared it), or undefined. */
  setSession: string | undefined;
}

/** The `__Host-session` value from a response's Set-Cookie headers, or undefined. */
export function sessionFromSetCookie(headers: Headers): string | undefined {
  for (const c of headers.getSetCookie()) {
    const m = /^__Host-session=([^;]*)/.exec(c);
    if (m) return m[1];
  }
  return undefined;
}

/** One request; `token` is sent as the `__Host-session` cookie, `json` as a JSON body. */
export async function http(
  base: string,
  method: string,
  path: string,
  options: { token?: string; json?: unknown; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.cookie = `__Host-session=${options.token}`;
  let body: string | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  }
  const res = await fetch(new URL(path, base), {
    method,
    headers,
    body,
    redirect: "manual",
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: unknown;
  if (text !== "") {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  return {
    status: res.status,
    headers: res.headers,
    body: parsed,
    setSession: sessionFromSetCookie(res.headers),
  };
}

/** POST /login; the result's `setSession` is the new session token on success. */
export function login(base: string, username: string, password: string): Promise<HttpResult> {
  return http(base, "POST", "/login", { json: { username, password } });
}

/** Logs in and returns the session token; throws when the login does not succeed. */
export async function loginToken(
  base: string,
  username: string,
  password: string,
): Promise<string> {
  const res = await login(base, username, password);
  if (res.status !== 200 || res.setSession === undefined || res.setSession === "") {
    throw new Error(`login as ${username} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.setSession;
}

export function getSession(base: string, token: string): Promise<HttpResult> {
  return http(base, "GET", "/session", { token });
}

/** The client secret that `tessera client add` / `rotate-secret` printed (shown once). */
export function clientSecretOf(stdout: string): string {
  const secret = /client_secret: (tsr_[\w-]{57})/.exec(stdout)?.[1];
  if (secret === undefined) throw new Error(`no client secret in:\n${stdout}`);
  return secret;
}
