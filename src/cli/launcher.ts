import { readFileSync } from "node:fs";

/**
 * `npm start` (and `npx tessera serve`, yarn, pnpm) runs the server as
 * `npm → sh -c "node … serve" → node`. Killing npm's PID does not stop the server:
 *
 * - SIGTERM: npm passes it to its child, the shell, which dies (Debian's dash does not
 *   exec the script's last command, and does not pass the signal on); node is orphaned.
 * - SIGKILL: cannot be passed on at all; the shell and node both stay.
 *
 * So a server started by a package manager (`npm_lifecycle_event` is set) follows the
 * chain of processes up to it: its parent, and, when that parent is the shell running the
 * script (`sh -c "$npm_lifecycle_script …"`), the shell's parent. When a link breaks (a
 * process in it exited and its child was re-parented), the server shuts down as on
 * SIGTERM. The chain is read from /proc (Linux); elsewhere only the parent is followed,
 * which covers the SIGTERM case.
 */

/** What the watch reads about processes (a test may pass its own). */
export interface ProcessTable {
  /** This process's parent PID (it changes when the parent exits). */
  ppid(): number;
  /** Another process's parent PID; undefined when it is gone or cannot be read. */
  parentOf(pid: number): number | undefined;
  /** Another process's argv; undefined when it is gone or cannot be read. */
  argvOf(pid: number): string[] | undefined;
}

export const procTable: ProcessTable = {
  ppid: () => process.ppid,
  parentOf(pid) {
    try {
      // "PID (COMM) STATE PPID …": COMM may hold spaces and parentheses.
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return Number.isSafeInteger(ppid) ? ppid : undefined;
    } catch {
      return undefined;
    }
  },
  argvOf(pid) {
    try {
      const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      return raw.endsWith("\0") ? raw.slice(0, -1).split("\0") : raw.split("\0");
    } catch {
      return undefined;
    }
  },
};

/**
 * The PIDs from this process's parent up to the package manager that started it, or
 * undefined when no package manager did (or it is gone already).
 */
export function launcherChain(env: NodeJS.ProcessEnv, table: ProcessTable): number[] | undefined {
  if (env.npm_lifecycle_event === undefined || env.npm_lifecycle_event === "") return undefined;
  const parent = table.ppid();
  if (parent <= 1) return undefined;
  const argv = table.argvOf(parent);
  const script = env.npm_lifecycle_script;
  // npm appends a command's arguments to the script (`npm start -- --port 5000`,
  // `npx tessera serve` runs `sh -c "'tessera' serve"` with the script `'tessera'`).
  const command = argv?.length === 3 && argv[1] === "-c" ? argv[2] : undefined;
  const parentIsScriptShell =
    script !== undefined &&
    script !== "" &&
    command !== undefined &&
    (command === script || command.startsWith(`${script} `));
  if (!parentIsScriptShell) return [parent];
  const manager = table.parentOf(parent);
  return manager === undefined || manager <= 1 ? [parent] : [parent, manager];
}

/** True while every process of the chain is still there, each the child of the next. */
export function chainIntact(chain: readonly number[], table: ProcessTable): boolean {
  if (table.ppid() !== chain[0]) return false;
  for (let i = 1; i < chain.length; i++) {
    if (table.parentOf(chain[i - 1] as number) !== chain[i]) return false;
  }
  return true;
}

/**
 * Calls `onGone` once, with the package manager's PID, when the chain breaks; checks
 * every `everyMs` on an unref'd timer (it never keeps the process alive). Returns a stop
 * function, or undefined when there is nothing to follow.
 */
export function followLauncher(
  env: NodeJS.ProcessEnv,
  onGone: (pid: number) => void,
  options: { table?: ProcessTable; everyMs?: number } = {},
): (() => void) | undefined {
  const table = options.table ?? procTable;
  const chain = launcherChain(env, table);
  if (chain === undefined) return undefined;
  const timer = setInterval(() => {
    if (chainIntact(chain, table)) return;
    clearInterval(timer);
    onGone(chain[chain.length - 1] as number);
  }, options.everyMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
