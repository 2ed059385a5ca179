/**
 * The program of every `serve --workers` worker (node:cluster forks it, see ./primary.ts):
 * it waits for the primary's configuration, then serves it (`serveWorker`). A failure to
 * start is printed as the CLI prints one, and the exit code tells the primary.
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
  process.once("message", (message: unknown) => {
    if (!isStartMessage(message)) {
      io.err(`tessera: worker ${id}: unexpected first message from the primary`);
      process.exit(1);
    }
    serveWorker(message.config, io, id).catch((err: unknown) => {
      const failure = describeFailure(err);
      io.err(`${failure.line} [worker ${id}]`);
      process.exit(failure.exitCode);
    });
  });
  process.send?.({ type: WORKER_WAITING });
}
