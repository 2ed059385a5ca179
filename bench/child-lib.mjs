/**
 * Child-side helpers shared by the servers under test, bench/server.mjs and
 * bench/oauth-server.mjs, each run by its parent (bench/run.mjs, bench/oauth.mjs, through
 * `startServer` of bench/lib.mjs) as `node SCRIPT KIND '{...options}'` via `fork` with IPC.
 *
 * `serve` starts the server of KIND, then sends `{ type: "ready", port, ... }` to the
 * parent (or `{ type: "error", message }` and exits 1) and answers the parent's messages:
 * - `{ cmd: "eld-start" }` / `{ cmd: "eld-stop" }`: event-loop delay of this process
 *   (perf_hooks.monitorEventLoopDelay), reported back as `{ type: "eld", ... }` in ms.
 * - `{ cmd: "cpu-start" }` / `{ cmd: "cpu-stop" }`: CPU time (user, system; µs) this process
 *   used in between (`process.cpuUsage`, every thread), reported back as `{ type: "cpu", ... }`
 *   with `main`: the main thread's own share (µs, from /proc/self/task/PID/stat; null where
 *   there is no /proc). The rest is libuv's pool (argon2id), V8's helpers and the like.
 * - `{ cmd: "close" }`: close everything and exit 0 (so `--cpu-prof` gets written).
 * If the parent goes away, the child exits.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";

/** KIND, the first argument. */
export const kind = process.argv[2];
/** The options, the second argument (JSON). */
export const options = JSON.parse(process.argv[3] ?? "{}");

/**
 * The main thread's CPU time so far (user + system, µs): fields 14 and 15 of
 * /proc/self/task/PID/stat, in clock ticks (USER_HZ, 100 on Linux); null without /proc.
 */
function mainThreadUs() {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8")
      .split(") ")[1]
      .split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return null;
  }
}

export function send(message) {
  if (process.send) process.send(message);
}

/** Fastify (or Tessera's app) on 127.0.0.1, a free port; returns the port. */
export async function listenFastify(app) {
  await app.listen({ port: 0, host: "127.0.0.1" });
  return app.server.address().port;
}

/**
 * Calls `listenable.listen(0, "127.0.0.1")` (a node:http server, an express app, a Koa
 * app) and returns the server once it listens.
 */
export async function listenLoopback(listenable) {
  const server = listenable.listen(0, "127.0.0.1");
  await new Promise((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  return server;
}

/** Closes a node:http server, keep-alive connections included. */
export function closeServer(server) {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/**
 * Tessera from ../dist (`Tessera.open` + `buildServer`) with the CLI `flags`, listening on
 * loopback. `setup(tessera, config)` runs before the app is built; what it returns is
 * merged into the result `{ port, close }`.
 */
export async function startTesseraServer(flags, setup) {
  const { Tessera, buildServer, loadConfig } = await import("../dist/index.js");
  const config = loadConfig(flags, {});
  const tessera = await Tessera.open({ config });
  const extra = await setup(tessera, config);
  const app = await buildServer(tessera);
  const port = await listenFastify(app);
  return {
    ...extra,
    port,
    close: async () => {
      await app.close();
      await tessera.close();
    },
  };
}

/**
 * Starts `starters[kind]()` (which resolves to `{ port, close, ... }`), answers the parent
 * as described above, and sends it `{ type: "ready", port, ...readyFields(server) }`.
 */
export function serve(starters, readyFields) {
  main(starters, readyFields).catch((err) => {
    send({
      type: "error",
      message: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
    process.exit(1);
  });
}

async function main(starters, readyFields) {
  const start = starters[kind];
  if (start === undefined) throw new Error(`unknown server kind ${kind}`);
  const server = await start();
  let eld;
  let cpu;
  let closing = false;
  process.on("message", async (message) => {
    if (message.cmd === "eld-start") {
      eld = monitorEventLoopDelay({ resolution: 10 });
      eld.enable();
      send({ type: "eld-started" });
    } else if (message.cmd === "eld-stop" && eld !== undefined) {
      eld.disable();
      const ms = (ns) => ns / 1e6;
      send({
        type: "eld",
        p50: ms(eld.percentile(50)),
        p99: ms(eld.percentile(99)),
        max: ms(eld.max),
        mean: ms(eld.mean),
        count: eld.count,
      });
      eld = undefined;
    } else if (message.cmd === "cpu-start") {
      cpu = { all: process.cpuUsage(), main: mainThreadUs() };
      send({ type: "cpu-started" });
    } else if (message.cmd === "cpu-stop" && cpu !== undefined) {
      const used = process.cpuUsage(cpu.all);
      const main = mainThreadUs();
      send({
        type: "cpu",
        user: used.user,
        system: used.system,
        main: main === null || cpu.main === null ? null : main - cpu.main,
      });
      cpu = undefined;
    } else if (message.cmd === "close" && !closing) {
      closing = true;
      try {
        await server.close();
      } finally {
        process.exit(0);
      }
    }
  });
  // The parent went away without saying goodbye: do not linger.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", port: server.port, ...readyFields(server) });
}
