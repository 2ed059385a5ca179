/**
 * The program of every `serve --workers` worker (node:cluster forks it, see ./primary.ts):
 * it waits for the primary's configuration, then serves it (`serveWorker`). A failure to
 * start is printed as the CLI prints one, and the exit code tells the primary.
 *
 * Signals: SIGHUP (forwarded by the primary) reloads the TLS certificate and key.
 * SIGTERM (the primary forwards its SIGTERM and SIGINT) drains the worker and it
 * exits, 0 when it closed cleanly; before it listens there is nothing to drain, so it exits
 * at once. SIGINT is left to the primary: a terminal's Ctrl-C reaches every process of the
 * group, and a worker that left by itself would look like one to replace.
 */
import cluster from "node:cluster";
import { serveWorker } from "../commands/serve.js";
import { describeFailure } from "../failure.js";
import type { CliIo } from "../io.js";
import { isStartMessage, WORKER_WAITING } from "./messages.js";

const io: CliIo = {
  env: process.env,
  stdin: process.stdin,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

if (cluster.isWorker) {
  const id = cluster.worker?.id ?? 0;
  let served: Awaited<ReturnType<typeof serveWorker>> | undefined;
  let stopping = false;
  process.on("SIGINT", () => {
    served?.log.info({ signal: "SIGINT" }, "SIGINT ignored: the primary stops the workers");
  });
  // Forwarded by the primary (--tls-cert): reload the certificate. Handled from the start,
  // so a worker still loading is not ended by it (SIGHUP's default).
  process.on("SIGHUP", () => served?.reload?.());
  process.on("SIGTERM", () => {
    if (stopping) return;
    stopping = true;
    if (served === undefined) process.exit(0);
    // The IPC channel to the primary would keep this process alive: exit explicitly.
    void served.drain("SIGTERM").then((clean) => process.exit(clean ? 0 : 1));
  });
  process.once("message", (message: unknown) => {
    if (!isStartMessage(message)) {
      io.err(`tessera: worker ${id}: unexpected first message from the primary`);
      process.exit(1);
    }
    serveWorker(message.config, io, id).then(
      (server) => {
        served = server;
      },
      (err: unknown) => {
        const failure = describeFailure(err);
        io.err(`${failure.line} [worker ${id}]`);
        process.exit(failure.exitCode);
      },
    );
  });
  process.send?.({ type: WORKER_WAITING });
}
