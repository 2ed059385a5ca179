/**
 * Several `tessera serve` processes as on several machines: each its own `--data`
 * directory (nothing shared on disk), all on one PostgreSQL schema (and, with `redis`,
 * one Redis key prefix), sharing `TESSERA_SECRET` and the issuer. `next()` hands the
 * instances out round-robin, as a load balancer without sticky sessions would.
 *
 * `cluster.cli(...)` runs any other command against the same installation (a data
 * directory of its own, `--init` added for the first). `stop()` stops every instance,
 * drops the schema and deletes the Redis prefix.
 *
 * Only for suites inside `describePostgres` (and `describeRedis` with `redis: true`).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { dropSchema, freshSchema, requirePostgresUrl } from "./postgres.js";
import {
  type CliResult,
  clientSecretOf,
  runCli,
  type ServerProcess,
  startServer,
  tempDataDir,
} from "./process.js";
import { requireRedisUrl } from "./redis.js";

export interface ClusterOptions {
  /** How many instances (default 3). */
  instances?: number;
  /** PostgreSQL + Redis (true) or PostgreSQL alone (false, the default). */
  redis?: boolean;
  /** Extra `serve` flags for every instance. */
  args?: readonly string[];
  /** Extra environment for every process (instances and CLI). */
  env?: Record<string, string>;
  /** Run before any instance starts (users, clients), with the cluster's CLI. */
  setup?: (cli: ClusterCli) => Promise<void>;
}

export type ClusterCli = (
  args: readonly string[],
  options?: { stdin?: string },
) => Promise<CliResult>;

export interface Cluster {
  instances: ServerProcess[];
  /** The issuer every instance uses (`iss` of every token). */
  issuer: string;
  schema: string;
  /** The environment every process of the cluster gets. */
  env: Record<string, string>;
  /** The next instance, round-robin. */
  next(): ServerProcess;
  cli: ClusterCli;
  /** Starts one more instance like the others (e.g. to replace a stopped one). */
  add(): Promise<ServerProcess>;
  stop(): Promise<void>;
}

/** A confidential client's secret from `client add`'s output, as `Basic` credentials. */
export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
}

/** `tessera client add ID ...` on the cluster; the Basic credentials of the new client. */
export async function addClient(
  cli: ClusterCli,
  id: string,
  flags: readonly string[],
): Promise<string> {
  const r = await cli(["client", "add", id, ...flags]);
  if (r.code !== 0) throw new Error(`client add ${id}: ${r.stderr}`);
  return basicAuth(id, clientSecretOf(r.stdout));
}

/** `tessera user add NAME --password-stdin` on the cluster. */
export async function addUser(cli: ClusterCli, name: string, password: string): Promise<void> {
  const r = await cli(["user", "add", name, "--password-stdin"], { stdin: password });
  if (r.code !== 0) throw new Error(`user add ${name}: ${r.stderr}`);
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const schema = freshSchema();
  const issuer = `https://auth-${randomBytes(4).toString("hex")}.cluster.test`;
  const redisPrefix = `tessera-cluster-${randomBytes(6).toString("hex")}:`;
  const env: Record<string, string> = {
    TESSERA_DB: requirePostgresUrl(),
    TESSERA_DB_SCHEMA: schema,
    TESSERA_SECRET: randomBytes(32).toString("base64url"),
    TESSERA_ISSUER: issuer,
    ...(options.redis
      ? { TESSERA_REDIS: requireRedisUrl(), TESSERA_REDIS_PREFIX: redisPrefix }
      : {}),
    ...options.env,
  };
  const cliData = tempDataDir();
  let initialised = false;
  const cli: ClusterCli = async (args, o = {}) => {
    const init = initialised ? [] : ["--init"];
    const r = await runCli([...args, "--data", cliData, ...init], {
      env,
      ...(o.stdin === undefined ? {} : { stdin: o.stdin }),
    });
    if (r.code === 0) initialised = true;
    return r;
  };
  const instances: ServerProcess[] = [];
  const add = async () => {
    const server = await startServer(["--data", tempDataDir(), ...(options.args ?? [])], env);
    instances.push(server);
    return server;
  };
  let turn = 0;
  const cluster: Cluster = {
    instances,
    issuer,
    schema,
    env,
    cli,
    add,
    next() {
      const server = instances[turn % instances.length];
      turn++;
      if (server === undefined) throw new Error("the cluster has no instance");
      return server;
    },
    async stop() {
      await Promise.all(instances.map((s) => s.stop()));
      await dropSchema(schema);
      if (options.redis) await deletePrefix(redisPrefix);
    },
  };
  try {
    await options.setup?.(cli);
    // All at once, as a rollout would start them (migrations and the first key race).
    await Promise.all(Array.from({ length: options.instances ?? 3 }, () => add()));
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(requireRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}
