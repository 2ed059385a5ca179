import { createServer } from "node:net";
import { Server as TlsServer } from "node:tls";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Config } from "../../config/defaults.js";
import { assertSafeToServe, type RawSettings } from "../../config/load.js";
import { Demo } from "../../demo/demo.js";
import { loopbackUrl } from "../../demo/loopback.js";
import { isTesseraError, TesseraError } from "../../errors.js";
import { buildServer } from "../../server/app.js";
import { loadTlsPair, secureContextOptions, type TlsPair } from "../../server/tls.js";
import { Tessera } from "../../tessera.js";
import { DEMO_USER, ensureDemoUser } from "../../users/demo.js";
import { servePrimary } from "../cluster/primary.js";
import { dataLine, type Options, positionalArgs, rejectUnknown } from "../flags.js";
import type { CliIo } from "../io.js";
import { followLauncher } from "../launcher.js";

/**
 * `serve`'s checks before the configuration is loaded: no options or arguments of its
 * own; `--port 0` picks the free port now, so the derived issuer names the real one.
 */
export async function prepareServe(
  settings: RawSettings,
  args: readonly string[],
  unknown: Options,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  rejectUnknown(unknown, []);
  positionalArgs("serve", args, []);
  const port = settings.port ?? env.TESSERA_PORT;
  if (port === "0" && settings.issuer === undefined && !env.TESSERA_ISSUER) {
    settings.port = String(await freeLoopbackPort());
  }
}

/**
 * `tessera serve`: runs the auth server until SIGINT or SIGTERM. With `--workers N` (N > 1)
 * this process is the cluster's primary instead (../cluster/primary.ts).
 */
export async function serveCommand(config: Config, io: CliIo): Promise<number> {
  assertSafeToServe(config);
  if (config.workers > 1) return servePrimary(config, io);
  if (config.db.startsWith("memory")) {
    io.err(
      "WARNING: --db memory: keeps users and sessions in this process only; everything is lost on exit. For tests, never production.",
    );
  }
  // Read and checked before anything is opened or created: a bad pair stops here.
  const tls = tlsPairOf(config);
  const tessera = await openServing(config, io, tls);
  io.err(dataLine(tessera.installation));
  await tessera.hasher.warmUp();
  if (config.demo) await demoUser(tessera, io);
  // The demo's pages, API and BFF (src/demo/), on this server only with --demo.
  const demo = config.demo
    ? await Demo.open(tessera, { loopbackUrl: loopbackUrl(tessera.config) })
    : undefined;
  const app = await buildServer(tessera, {
    ...(demo === undefined ? {} : { demo }),
    ...(tls === undefined ? {} : { tls: secureContextOptions(tls) }),
  });
  if (tls !== undefined) app.log.info(certificateFields(tls), "TLS certificate loaded");
  for (const notice of tessera.notices) app.log[notice.level](notice.message);
  let closing = false;
  const shutdown = async (why: Record<string, unknown>, message: string) => {
    if (closing) return;
    closing = true;
    stopFollowing?.();
    if (onHangup !== undefined) process.off("SIGHUP", onHangup);
    app.log.info(why, message);
    await app.close();
    await tessera.close();
  };
  // SIGHUP: the certificate and key are read again (renewed files, same paths).
  const onHangup = tls === undefined ? undefined : reloadOnHangup(app, config);
  if (onHangup !== undefined) process.on("SIGHUP", onHangup);
  process.once("SIGINT", () => void shutdown({ signal: "SIGINT" }, "shutting down"));
  process.once("SIGTERM", () => void shutdown({ signal: "SIGTERM" }, "shutting down"));
  // Started by npm: stop when npm goes, even by SIGKILL (./launcher.ts says why).
  const stopFollowing = followLauncher(io.env, (pid) => {
    void shutdown(
      { launcherPid: pid },
      `the package manager that started this server (pid ${pid}) has exited: shutting down`,
    );
  });
  const url = (port: number | string) => bannerUrl(config, port);
  await app.listen({
    port: config.port,
    host: config.host,
    // The log line names the URL the banner names, and the socket address it is bound to.
    listenTextResolver: (address) =>
      `listening on ${url(new URL(address).port)} (${address.replace(/^https?:\/\//, "")})`,
  });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  io.out(`Tessera listening on ${url(port)} (issuer ${tessera.config.issuer})`);
  // Loads the demo API's keys and feed now, so the first visit finds them ready.
  demo?.ready().catch((err: unknown) => app.log.warn({ err }, "demo API not ready yet"));
  return 0;
}

/**
 * One worker of `serve --workers N`: the server of `serveCommand`, with `worker` on every
 * log line. Its primary prints the banner, follows the package manager and forwards
 * SIGTERM (../cluster/worker.ts owns the signals). Resolves once it listens, with its
 * logger and the function that drains it: stops accepting, finishes the requests in
 * flight, closes the stores; true when all of that went cleanly.
 */
export async function serveWorker(
  config: Config,
  io: CliIo,
  worker: number,
): Promise<{
  log: FastifyBaseLogger;
  drain(signal: NodeJS.Signals): Promise<boolean>;
  /** SIGHUP with --tls-cert: reads the certificate and key again (undefined without TLS). */
  reload: (() => void) | undefined;
}> {
  const tls = tlsPairOf(config);
  const tessera = await openServing(config, io, tls);
  await tessera.hasher.warmUp();
  const app = await buildServer(tessera, {
    logFields: { worker },
    ...(tls === undefined ? {} : { tls: secureContextOptions(tls) }),
  });
  for (const notice of tessera.notices) app.log[notice.level](notice.message);
  await app.listen({ port: config.port, host: config.host });
  const reload = tls === undefined ? undefined : reloadOnHangup(app, config);
  const drain = async (signal: NodeJS.Signals) => {
    app.log.info({ signal }, "shutting down");
    try {
      await app.close();
      await tessera.close();
      return true;
    } catch (err) {
      app.log.error({ err }, "shutdown failed");
      return false;
    }
  };
  return { log: app.log, drain, reload };
}

/** `http(s)://HOST:PORT` for the banner (loopback named `localhost`). */
export function bannerUrl(config: Config, port: number | string): string {
  const scheme = config.tlsCert === undefined ? "http" : "https";
  return `${scheme}://${hostForUrl(config.host)}:${port}`;
}

/** The certificate and key of --tls-cert / --tls-key, read and checked (none: plain HTTP). */
export function tlsPairOf(config: Config): TlsPair | undefined {
  return config.tlsCert === undefined || config.tlsKey === undefined
    ? undefined
    : loadTlsPair(config.tlsCert, config.tlsKey);
}

/**
 * Opens the installation to serve it; with TLS, its recorded issuer must be https (one
 * recorded earlier as plain http is refused, with what to pass).
 */
export async function openServing(
  config: Config,
  io: CliIo,
  tls: TlsPair | undefined,
): Promise<Tessera> {
  const tessera = await Tessera.open({
    config,
    role: "serve",
    onWarning: (m) => io.err(`WARNING: ${m}`),
  });
  if (tls !== undefined && !tessera.config.issuer.startsWith("https:")) {
    await tessera.close();
    throw new TesseraError(
      "config_invalid",
      `serving HTTPS (--tls-cert) under the plain-http issuer ${tessera.config.issuer} recorded for this installation: ` +
        "pass --issuer https://HOST:PORT --change-issuer",
    );
  }
  return tessera;
}

function certificateFields(pair: TlsPair): Record<string, string> {
  return { fingerprint: pair.fingerprint, serialNumber: pair.serialNumber, validTo: pair.validTo };
}

/**
 * The SIGHUP handler: reads the pair again and swaps it in for new connections. A bad new
 * pair keeps the current one, and the log says why (the message names files, never keys).
 */
function reloadOnHangup(app: FastifyInstance, config: Config): () => void {
  const server = app.server as unknown;
  if (!(server instanceof TlsServer))
    throw new Error("serve: the HTTPS server is not a TLS server");
  return () => {
    let pair: TlsPair;
    try {
      pair = loadTlsPair(config.tlsCert as string, config.tlsKey as string);
    } catch (err) {
      const why = isTesseraError(err) ? err.message : "unexpected error";
      app.log.error(
        { signal: "SIGHUP", error: "tls_invalid" },
        `TLS reload failed, the current certificate stays in use: ${why}`,
      );
      return;
    }
    server.setSecureContext(secureContextOptions(pair));
    app.log.info({ signal: "SIGHUP", ...certificateFields(pair) }, "TLS certificate reloaded");
  };
}

function hostForUrl(host: string): string {
  if (host === "127.0.0.1" || host === "::1") return "localhost";
  return host.includes(":") ? `[${host}]` : host;
}

export async function demoUser(tessera: Tessera, io: CliIo): Promise<void> {
  const created = await ensureDemoUser(tessera.users);
  if (created === undefined) {
    io.out(`Demo user "${DEMO_USER}" exists (its password was printed when it was created).`);
    return;
  }
  io.out("");
  io.out(`  Demo user created: username "${DEMO_USER}", password "${created.password}"`);
  io.out("  (shown once; it is stored only as an argon2id hash)");
  io.out("");
}

/** Free TCP port on loopback, chosen by the kernel. */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() =>
        resolvePort(typeof address === "object" && address !== null ? address.port : 0),
      );
    });
  });
}
