import cluster, { type Worker } from "node:cluster";
import { fileURLToPath } from "node:url";
import { type Clock, systemClock } from "../../clock.js";
import type { Config } from "../../config/defaults.js";
import { assertWorkersSupported } from "../../config/load.js";
import { chooseLogFormat } from "../../server/log-format.js";
import { createLogger } from "../../server/logger.js";
import { bannerUrl, demoUser, openServing, tlsPairOf } from "../commands/serve.js";
import { dataLine } from "../flags.js";
import type { CliIo } from "../io.js";
import { followLauncher } from "../launcher.js";
import { isWaitingMessage, type StartMessage } from "./messages.js";
import { RestartBudget, WORKER_RESTARTS } from "./restart-budget.js";

/** The program each worker runs (./worker.ts, built next to this file). */
const WORKER_ENTRY = fileURLToPath(new URL("./worker.js", import.meta.url));

/** How long the workers may take to drain after SIGTERM before they are killed. */
export const WORKER_DRAIN_MS = 30_000;

type Log = ReturnType<typeof createLogger>;

/**
 * `tessera serve --workers N`: this process serves nothing itself. It makes the
 * installation once (data directory, migrations, first signing key, recorded issuer, the
 * demo user), then forks N workers (node:cluster: they share the port, the primary hands
 * connections out in turn) and hands each the configuration. It prints the banner once all
 * of them listen, replaces one that dies (at most WORKER_RESTARTS), forwards SIGTERM and
 * SIGINT and exits when every worker has: 0 when each drained cleanly, else 1.
 */
export async function servePrimary(config: Config, io: CliIo): Promise<number> {
  assertWorkersSupported(config);
  // A bad certificate or key stops here, before any worker is forked.
  const tessera = await openServing(config, io, tlsPairOf(config));
  let issuer: string;
  try {
    io.err(dataLine(tessera.installation));
    if (config.demo) await demoUser(tessera, io);
    issuer = tessera.config.issuer;
  } finally {
    await tessera.close();
  }
  const log = createLogger(
    config.logLevel,
    undefined,
    chooseLogFormat(config.logFormat, process.stdout.isTTY === true),
    { worker: "primary" },
  );
  const workers = new WorkerPool(config, log, systemClock);
  const stop = (why: Record<string, unknown>, message: string) => {
    stopFollowing?.();
    workers.stop(why, message);
  };
  const onSignal = (signal: NodeJS.Signals) => stop({ signal }, "shutting down the workers");
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // SIGHUP (--tls-cert): every worker reads the certificate and key again.
  const onHangup = () => workers.signal("SIGHUP");
  process.on("SIGHUP", onHangup);
  // Started by npm: stop when npm goes (../launcher.ts says why); the workers follow us.
  const stopFollowing = followLauncher(io.env, (pid) =>
    stop(
      { launcherPid: pid },
      `the package manager that started this server (pid ${pid}) has exited: shutting down`,
    ),
  );
  void workers.done.then((code) => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    process.off("SIGHUP", onHangup);
    stopFollowing?.();
    log.info({ exitCode: code }, "every worker has exited");
    process.exitCode = code;
  });
  const port = await workers.ready;
  if (port === undefined) return workers.done;
  io.out(
    `Tessera listening on ${bannerUrl(config, port)} (issuer ${issuer}, ${config.workers} workers)`,
  );
  return 0;
}

/**
 * The workers: started, replaced when one dies (within the restart budget), stopped.
 * `ready` resolves with the port once all N listen, or undefined when the pool stopped
 * first (a worker failed to start, or a signal came); `done` with the exit code.
 */
export class WorkerPool {
  readonly ready: Promise<number | undefined>;
  readonly done: Promise<number>;
  private phase: "starting" | "running" | "stopping" = "starting";
  private readonly listening = new Set<number>();
  private readonly budget: RestartBudget;
  private exitCode = 0;
  private drainTimer: NodeJS.Timeout | undefined;
  private settleReady: (port: number | undefined) => void = () => {};
  private settleDone: (code: number) => void = () => {};

  constructor(
    private readonly config: Config,
    private readonly log: Log,
    clock: Clock = systemClock,
  ) {
    this.budget = new RestartBudget(clock, WORKER_RESTARTS);
    this.ready = new Promise((resolve) => {
      this.settleReady = resolve;
    });
    this.done = new Promise((resolve) => {
      this.settleDone = resolve;
    });
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [] });
    cluster.on("listening", (worker, address) => this.onListening(worker, address.port));
    cluster.on("exit", (worker, code, signal) => this.onExit(worker, code, signal));
    for (let i = 0; i < config.workers; i++) this.fork();
  }

  private fork(): void {
    const worker = cluster.fork();
    const start: StartMessage = { type: "tessera:start", config: this.config };
    worker.on("message", (message: unknown) => {
      if (isWaitingMessage(message)) worker.send(start);
    });
    this.log.info(
      { workerId: worker.id, workerPid: worker.process.pid },
      `worker ${worker.id} started (pid ${worker.process.pid})`,
    );
  }

  private onListening(worker: Worker, port: number): void {
    this.listening.add(worker.id);
    if (this.phase === "starting" && this.listening.size >= this.config.workers) {
      this.phase = "running";
      this.settleReady(port);
    }
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.listening.delete(worker.id);
    const how = signal === null ? `code ${code}` : signal;
    const fields = { workerId: worker.id, workerPid: worker.process.pid, exitCode: code, signal };
    if (this.phase === "stopping") {
      // Killed by our SIGTERM: a worker still loading, before it could handle the signal.
      if (code !== 0 && signal !== "SIGTERM") this.exitCode = 1;
      this.log.info(fields, `worker ${worker.id} exited (${how})`);
      this.settleIfEmpty();
      return;
    }
    if (this.phase === "starting") {
      this.exitCode = code === null || code === 0 ? 1 : code;
      this.stop(fields, `worker ${worker.id} exited before listening (${how}): stopping`);
      return;
    }
    if (!this.budget.take()) {
      this.exitCode = 1;
      this.stop(
        fields,
        `worker ${worker.id} exited (${how}), the ${WORKER_RESTARTS.max + 1}th within ` +
          `${WORKER_RESTARTS.windowMs / 1000} s: giving up`,
      );
      return;
    }
    this.log.warn(fields, `worker ${worker.id} exited (${how}): starting a replacement`);
    this.fork();
  }

  /** Forwards SIGTERM to every worker; kills those still there after WORKER_DRAIN_MS. */
  stop(why: Record<string, unknown>, message: string): void {
    if (this.phase === "stopping") return;
    const error = this.exitCode !== 0;
    this.phase = "stopping";
    this.settleReady(undefined);
    this.log[error ? "error" : "info"](why, message);
    for (const worker of this.alive()) worker.process.kill("SIGTERM");
    this.drainTimer = setTimeout(() => {
      for (const worker of this.alive()) {
        this.log.error(
          { workerId: worker.id, workerPid: worker.process.pid },
          `worker ${worker.id} still running ${WORKER_DRAIN_MS / 1000} s after SIGTERM: killed`,
        );
        this.exitCode = 1;
        worker.process.kill("SIGKILL");
      }
    }, WORKER_DRAIN_MS);
    this.settleIfEmpty();
  }

  /** Sends `signal` to every worker alive (SIGHUP: reload the TLS certificate). */
  signal(signal: NodeJS.Signals): void {
    for (const worker of this.alive()) worker.process.kill(signal);
  }

  private alive(): Worker[] {
    return Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w !== undefined && !w.isDead(),
    );
  }

  private settleIfEmpty(): void {
    if (this.alive().length > 0) return;
    clearTimeout(this.drainTimer);
    cluster.removeAllListeners("listening");
    cluster.removeAllListeners("exit");
    this.settleDone(this.exitCode);
  }
}
