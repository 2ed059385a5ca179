import { readdirSync } from "node:fs";
import { createHistogram, performance, type RecordableHistogram } from "node:perf_hooks";

/**
 * The process's own health for /metrics: memory (resident, V8 heap), event-loop delay,
 * libuv resources kept alive (sockets, timers, file handles, by type) and open file
 * descriptors — what a leak shows up in (`npm run soak`, docs/soak.md).
 */

/** Resolution (ms) of the event-loop delay sampler: a timer every 20 ms, nothing more. */
const ELD_RESOLUTION_MS = 20;

/** Where the open file descriptors are listed; undefined where there is none (not Linux). */
export function openFdCount(dir = "/proc/self/fd"): number | undefined {
  try {
    // The listing's own descriptor is among them while it is read: not one of ours.
    return Math.max(0, readdirSync(dir).length - 1);
  } catch {
    return undefined;
  }
}

/** The libuv resources that keep the loop alive now, counted by type (TCPSocketWrap, Timeout, …). */
export function activeResources(
  list: () => readonly string[] = () => process.getActiveResourcesInfo(),
): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of list()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** A Prometheus label value, escaped. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export interface ProcessMetricsOptions {
  /** The open-descriptor count (tests); `openFdCount` by default. */
  fds?: () => number | undefined;
  /** The active resources' types (tests); `process.getActiveResourcesInfo` by default. */
  resources?: () => readonly string[];
}

/**
 * Process gauges. The event-loop delay is sampled from `start()` to `stop()` by a timer
 * (unref'd: it keeps nothing alive) that records how late each tick ran; each `render()`
 * reports the delay since the previous one (p50, p99, max) and starts a new window, so a
 * scraper sees each interval once. (perf_hooks' monitorEventLoopDelay is not used: its
 * reset() also forgets the tick in progress, so a stall straddling a scrape went unseen.)
 */
export class ProcessMetrics {
  private readonly eld: RecordableHistogram = createHistogram();
  private timer: NodeJS.Timeout | undefined;
  private last = 0;

  constructor(private readonly options: ProcessMetricsOptions = {}) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const lateUs = Math.round((now - this.last - ELD_RESOLUTION_MS) * 1000);
      this.last = now;
      // Histograms record integers >= 1: 1 µs stands for "on time".
      this.eld.record(Math.max(1, lateUs));
    }, ELD_RESOLUTION_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  render(): string[] {
    const mem = process.memoryUsage();
    const lines = [
      "# HELP tessera_process_resident_memory_bytes Resident set size.",
      "# TYPE tessera_process_resident_memory_bytes gauge",
      `tessera_process_resident_memory_bytes ${mem.rss}`,
      "# HELP tessera_process_heap_bytes V8 heap: used, and total (reserved by V8).",
      "# TYPE tessera_process_heap_bytes gauge",
      `tessera_process_heap_bytes{kind="used"} ${mem.heapUsed}`,
      `tessera_process_heap_bytes{kind="total"} ${mem.heapTotal}`,
      "# HELP tessera_process_external_memory_bytes Memory of C++ objects bound to JavaScript (Buffers included).",
      "# TYPE tessera_process_external_memory_bytes gauge",
      `tessera_process_external_memory_bytes ${mem.external}`,
    ];
    lines.push(...this.eventLoopDelay());
    const resources = activeResources(this.options.resources);
    let total = 0;
    lines.push(
      "# HELP tessera_process_active_resources libuv resources keeping the event loop alive now (sockets, servers, timers, file requests), by type.",
      "# TYPE tessera_process_active_resources gauge",
    );
    for (const [type, n] of [...resources].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`tessera_process_active_resources{type="${label(type)}"} ${n}`);
      total += n;
    }
    lines.push(
      "# HELP tessera_process_active_resources_total All libuv resources keeping the event loop alive now.",
      "# TYPE tessera_process_active_resources_total gauge",
      `tessera_process_active_resources_total ${total}`,
    );
    const fds = (this.options.fds ?? openFdCount)();
    if (fds !== undefined) {
      lines.push(
        "# HELP tessera_process_open_fds Open file descriptors (sockets included; Linux only).",
        "# TYPE tessera_process_open_fds gauge",
        `tessera_process_open_fds ${fds}`,
      );
    }
    return lines;
  }

  /**
   * p50, p99 and max of the event-loop delay since the previous render, in seconds: how
   * much later than due the sampler's timer ran.
   */
  private eventLoopDelay(): string[] {
    const h = this.eld;
    // No sample yet (a scrape right after start): 0 rather than the histogram's NaN.
    const s = (us: number) => (h.count === 0 || !Number.isFinite(us) || us <= 1 ? 0 : us / 1e6);
    const lines = [
      "# HELP tessera_process_event_loop_delay_seconds Event-loop delay since the previous scrape, by quantile (max: quantile 1).",
      "# TYPE tessera_process_event_loop_delay_seconds gauge",
      `tessera_process_event_loop_delay_seconds{quantile="0.5"} ${s(h.percentile(50))}`,
      `tessera_process_event_loop_delay_seconds{quantile="0.99"} ${s(h.percentile(99))}`,
      `tessera_process_event_loop_delay_seconds{quantile="1"} ${s(h.max)}`,
    ];
    h.reset();
    return lines;
  }
}
