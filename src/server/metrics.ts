import type { FastifyInstance } from "fastify";
import type { AuditStats } from "../audit/recorder.js";
import { isLoopbackAddress } from "../config/load.js";
import type { RevocationStreamStats } from "../revocations/streams.js";
import type { PoolStats } from "../store/types.js";
import type { ForgeryStats } from "../throttle/forgery.js";
import { ProcessMetrics, type ProcessMetricsOptions } from "./process-metrics.js";

/** Upper bounds (seconds) of the request-duration histogram buckets. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

interface RouteStats {
  /** status code → count */
  statuses: Map<number, number>;
  bucketCounts: number[];
  sum: number;
  count: number;
}

/** A Prometheus label value, escaped. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * Introspection's fishing defence (docs/introspection-fishing.md). Labels are
 * authenticated client ids only, so their number is bounded by the registered clients.
 */
export function forgeryMetrics(stats: ForgeryStats): string[] {
  const lines = [
    "# HELP tessera_introspection_forged_total Tokens this installation never issued, sent to introspection, by authenticated client.",
    "# TYPE tessera_introspection_forged_total counter",
  ];
  for (const [clientId, n] of stats.forgedByClient) {
    lines.push(`tessera_introspection_forged_total{client_id="${label(clientId)}"} ${n}`);
  }
  lines.push(
    "# HELP tessera_introspection_fishing_clients Clients over their forged-token limit in the current window (tarpitted).",
    "# TYPE tessera_introspection_fishing_clients gauge",
    `tessera_introspection_fishing_clients ${stats.fishingClients}`,
    "# HELP tessera_introspection_tarpit_pending Forged-token answers held in the tarpit now.",
    "# TYPE tessera_introspection_tarpit_pending gauge",
    `tessera_introspection_tarpit_pending ${stats.pending}`,
    "# HELP tessera_introspection_tarpit_refused_total Forged-token requests refused with 429 because the tarpit was full.",
    "# TYPE tessera_introspection_tarpit_refused_total counter",
    `tessera_introspection_tarpit_refused_total ${stats.refused}`,
  );
  return lines;
}

/** The revocation feed's streams (docs/revocation-feed.md): bounded, so watched. */
export function feedMetrics(stats: RevocationStreamStats): string[] {
  return [
    "# HELP tessera_revocation_feed_streams Revocation-feed streams open now (GET /events/revocations).",
    "# TYPE tessera_revocation_feed_streams gauge",
    `tessera_revocation_feed_streams ${stats.open}`,
    "# HELP tessera_revocation_feed_refused_total Revocation-feed connects refused with 503 too_many_streams, by the bound reached.",
    "# TYPE tessera_revocation_feed_refused_total counter",
    `tessera_revocation_feed_refused_total{limit="per_client"} ${stats.refusedPerClient}`,
    `tessera_revocation_feed_refused_total{limit="total"} ${stats.refusedTotal}`,
    "# HELP tessera_revocation_feed_snapshot_reads_total Snapshots of the revocation log read from the store (shared by concurrent connects).",
    "# TYPE tessera_revocation_feed_snapshot_reads_total counter",
    `tessera_revocation_feed_snapshot_reads_total ${stats.snapshotReads}`,
  ];
}

/** The durable store's connection pool (PostgreSQL): sized by --db-pool-size. */
export function poolMetrics(stats: PoolStats): string[] {
  return [
    "# HELP tessera_db_pool_connections Connections of the PostgreSQL pool, busy or idle.",
    "# TYPE tessera_db_pool_connections gauge",
    `tessera_db_pool_connections{state="busy"} ${stats.total - stats.idle}`,
    `tessera_db_pool_connections{state="idle"} ${stats.idle}`,
    "# HELP tessera_db_pool_waiting Requests waiting for a PostgreSQL connection (all are busy).",
    "# TYPE tessera_db_pool_waiting gauge",
    `tessera_db_pool_waiting ${stats.waiting}`,
  ];
}

/** The audit trail (README, "Audit trail"): events recorded by this process, by type. */
export function auditMetrics(stats: AuditStats): string[] {
  const lines = [
    "# HELP tessera_audit_events_total Security events recorded in the audit trail by this process, by type.",
    "# TYPE tessera_audit_events_total counter",
  ];
  for (const [type, n] of stats.recorded) {
    lines.push(`tessera_audit_events_total{type="${label(type)}"} ${n}`);
  }
  lines.push(
    "# HELP tessera_audit_write_failures_total Audit records the durable store refused (each logged at error level with the record).",
    "# TYPE tessera_audit_write_failures_total counter",
    `tessera_audit_write_failures_total ${stats.failed}`,
  );
  return lines;
}

/** One in-process cache's counters (src/cache). */
export interface CacheStats {
  cache: string;
  hits: number;
  misses: number;
  size: number;
}

/** The in-process caches (README, "In-process caches"): hits, misses, entries held. */
export function cacheMetrics(stats: readonly CacheStats[]): string[] {
  const lines = [
    "# HELP tessera_cache_hits_total Reads answered from an in-process cache, by cache (session, user, client, opaque).",
    "# TYPE tessera_cache_hits_total counter",
    ...stats.map((s) => `tessera_cache_hits_total{cache="${label(s.cache)}"} ${s.hits}`),
    "# HELP tessera_cache_misses_total Reads of an in-process cache that went to the store, by cache.",
    "# TYPE tessera_cache_misses_total counter",
    ...stats.map((s) => `tessera_cache_misses_total{cache="${label(s.cache)}"} ${s.misses}`),
    "# HELP tessera_cache_entries Entries held by an in-process cache now, by cache.",
    "# TYPE tessera_cache_entries gauge",
    ...stats.map((s) => `tessera_cache_entries{cache="${label(s.cache)}"} ${s.size}`),
  ];
  return stats.length === 0 ? [] : lines;
}

/** What /metrics reports besides HTTP requests and the process. */
export interface MetricSources {
  audit?: { stats(): AuditStats };
  forgeries?: { stats(): ForgeryStats };
  feed?: { stats(): RevocationStreamStats };
  /** Undefined stats: the store has no pool (SQLite, memory). */
  pool?: { stats(): PoolStats | undefined };
  /** The in-process caches (none with --cache-ttl 0). */
  caches?: { stats(): readonly CacheStats[] };
}

/**
 * Prometheus metrics, in process: requests by route and status, and a latency histogram
 * by route. Routes are the registered patterns (`/sessions/:id`), never raw URLs, so no
 * id or token ends up as a label.
 */
export class HttpMetrics {
  private readonly routes = new Map<string, RouteStats>();
  private readonly started = Date.now();
  /** Memory, event-loop delay, active resources, open descriptors (process-metrics.ts). */
  readonly process: ProcessMetrics;

  constructor(
    private readonly sources: MetricSources = {},
    processOptions: ProcessMetricsOptions = {},
  ) {
    this.process = new ProcessMetrics(processOptions);
  }

  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `${method} ${route}`;
    let r = this.routes.get(key);
    if (r === undefined) {
      r = { statuses: new Map(), bucketCounts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.routes.set(key, r);
    }
    r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1);
    for (let i = 0; i < BUCKETS.length; i++)
      if (seconds <= (BUCKETS[i] as number)) (r.bucketCounts[i] as number)++;
    r.sum += seconds;
    r.count++;
  }

  /** The text exposition format (version 0.0.4). */
  render(): string {
    const lines: string[] = [
      "# HELP tessera_http_requests_total HTTP requests answered, by route and status.",
      "# TYPE tessera_http_requests_total counter",
    ];
    for (const [key, r] of this.routes) {
      const [method, route] = key.split(" ") as [string, string];
      for (const [status, n] of r.statuses) {
        lines.push(
          `tessera_http_requests_total{method="${method}",route="${label(route)}",status="${status}"} ${n}`,
        );
      }
    }
    lines.push(
      "# HELP tessera_http_request_duration_seconds Time to answer, by route.",
      "# TYPE tessera_http_request_duration_seconds histogram",
    );
    for (const [key, r] of this.routes) {
      const [method, route] = key.split(" ") as [string, string];
      const l = `method="${method}",route="${label(route)}"`;
      BUCKETS.forEach((b, i) => {
        lines.push(
          `tessera_http_request_duration_seconds_bucket{${l},le="${b}"} ${r.bucketCounts[i]}`,
        );
      });
      lines.push(`tessera_http_request_duration_seconds_bucket{${l},le="+Inf"} ${r.count}`);
      lines.push(`tessera_http_request_duration_seconds_sum{${l}} ${r.sum}`);
      lines.push(`tessera_http_request_duration_seconds_count{${l}} ${r.count}`);
    }
    lines.push(...this.process.render());
    lines.push(
      "# HELP tessera_process_uptime_seconds Seconds since the server started.",
      "# TYPE tessera_process_uptime_seconds gauge",
      `tessera_process_uptime_seconds ${((Date.now() - this.started) / 1000).toFixed(3)}`,
    );
    const { forgeries, feed, pool, audit, caches } = this.sources;
    if (forgeries !== undefined) lines.push(...forgeryMetrics(forgeries.stats()));
    if (caches !== undefined) lines.push(...cacheMetrics(caches.stats()));
    if (audit !== undefined) lines.push(...auditMetrics(audit.stats()));
    if (feed !== undefined) lines.push(...feedMetrics(feed.stats()));
    const poolStats = pool?.stats();
    if (poolStats !== undefined) lines.push(...poolMetrics(poolStats));
    return `${lines.join("\n")}\n`;
  }
}

/**
 * GET /metrics. By default only for loopback clients (a Prometheus agent beside the
 * server, or behind the proxy with --trust-proxy, where the client address is real):
 * request counts are operational data, not for the internet.
 */
export function metricsRoutes(
  app: FastifyInstance,
  access: "loopback" | "public" | "off",
  sources: MetricSources = {},
): void {
  if (access === "off") return;
  const metrics = new HttpMetrics(sources);
  // The event-loop delay sampler runs while the server does (a timer that keeps nothing alive).
  metrics.process.start();
  app.addHook("onClose", async () => metrics.process.stop());
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.observe(route, request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.get("/metrics", async (request, reply) => {
    if (access === "loopback" && !isLoopbackAddress(request.ip)) {
      return reply.code(404).send({ error: "not_found", message: "Not found." });
    }
    reply.type("text/plain; version=0.0.4; charset=utf-8");
    return metrics.render();
  });
}
