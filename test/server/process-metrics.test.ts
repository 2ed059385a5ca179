import { closeSync, existsSync, openSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { activeResources, openFdCount, ProcessMetrics } from "../../src/server/process-metrics.js";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** The value of the sample `name` (with its labels, exactly) in a text exposition. */
function sample(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

describe("process metrics in GET /metrics", () => {
  it("reports memory, heap, event-loop delay, active resources and open descriptors", async () => {
    s = await testServer();
    const text = (await s.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" })).body;
    for (const name of [
      "tessera_process_resident_memory_bytes",
      'tessera_process_heap_bytes{kind="used"}',
      'tessera_process_heap_bytes{kind="total"}',
      "tessera_process_external_memory_bytes",
      'tessera_process_event_loop_delay_seconds{quantile="0.5"}',
      'tessera_process_event_loop_delay_seconds{quantile="0.99"}',
      'tessera_process_event_loop_delay_seconds{quantile="1"}',
      "tessera_process_active_resources_total",
    ]) {
      const v = sample(text, name);
      expect(v, name).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(v), name).toBe(true);
    }
    expect(sample(text, 'tessera_process_heap_bytes{kind="used"}')).toBeGreaterThan(0);
    expect(text).toContain("# TYPE tessera_process_active_resources gauge");
    if (existsSync("/proc/self/fd")) {
      expect(sample(text, "tessera_process_open_fds")).toBeGreaterThan(2);
    }
  });

  it("counts active resources by type, sorted, with their total", () => {
    const m = new ProcessMetrics({
      resources: () => ["Timeout", "TCPSocketWrap", "Timeout", "TCPServerWrap", 'odd"type'],
      fds: () => 7,
    });
    const text = m.render().join("\n");
    const lines = text.split("\n").filter((l) => l.startsWith("tessera_process_active_resources"));
    expect(lines).toEqual([
      'tessera_process_active_resources{type="odd\\"type"} 1',
      'tessera_process_active_resources{type="TCPServerWrap"} 1',
      'tessera_process_active_resources{type="TCPSocketWrap"} 1',
      'tessera_process_active_resources{type="Timeout"} 2',
      "tessera_process_active_resources_total 5",
    ]);
    expect(sample(text, "tessera_process_open_fds")).toBe(7);
    // No descriptor listing (not Linux): no line rather than a made-up number.
    const none = new ProcessMetrics({ resources: () => [], fds: () => undefined });
    expect(none.render().join("\n")).not.toContain("tessera_process_open_fds");
  });

  it("sees a timer and a file descriptor that are left open", () => {
    const before = activeResources().get("Timeout") ?? 0;
    const timer = setTimeout(() => {}, 60_000);
    try {
      expect(activeResources().get("Timeout") ?? 0).toBe(before + 1);
    } finally {
      clearTimeout(timer);
    }
    if (!existsSync("/proc/self/fd")) return;
    const fds0 = openFdCount() as number;
    const opened = [0, 1, 2].map(() => openSync(__filename, "r"));
    try {
      expect(openFdCount()).toBe(fds0 + 3);
    } finally {
      for (const fd of opened) closeSync(fd);
    }
    expect(openFdCount()).toBe(fds0);
    expect(openFdCount("/nonexistent/fd")).toBeUndefined();
  });

  it("reports an event loop held up, once: each scrape starts a new window", async () => {
    const m = new ProcessMetrics();
    m.start();
    try {
      await new Promise((r) => setTimeout(r, 50));
      m.render(); // a fresh window from here
      // Hold the loop for 200 ms: the sampler's next tick is at least that late.
      const until = performance.now() + 200;
      while (performance.now() < until) {
        // busy
      }
      await new Promise((r) => setTimeout(r, 50));
      const first = m.render().join("\n");
      expect(
        sample(first, 'tessera_process_event_loop_delay_seconds{quantile="1"}'),
      ).toBeGreaterThan(0.15);
    } finally {
      m.stop();
    }
    // Stopped, nothing sampled since the last scrape: zeros, not the old window's values.
    const after = m.render().join("\n");
    expect(sample(after, 'tessera_process_event_loop_delay_seconds{quantile="1"}')).toBe(0);
  });
});
