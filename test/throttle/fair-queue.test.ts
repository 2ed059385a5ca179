import { describe, expect, it } from "vitest";
import { FairQueue, QueueFullError } from "../../src/throttle/fair-queue.js";

/** A task that runs until the test ends it, recording when it started. */
function gate(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return {
    task: async () => {
      log.push(name);
      await done;
      return name;
    },
    finish: () => finish(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("FairQueue", () => {
  it("runs at most `concurrency` tasks at once; the rest wait and none is lost", async () => {
    const q = new FairQueue({ concurrency: 2, maxWaitingPerSource: 10, maxWaiting: 10 });
    const log: string[] = [];
    const gates = ["a", "b", "c", "d"].map((n) => gate(log, n));
    const runs = gates.map((g, i) => q.run(`s${i}`, g.task));
    await tick();
    expect(log).toEqual(["a", "b"]);
    expect(q.stats()).toEqual({ running: 2, waiting: 2, sources: 2 });
    for (const g of gates) g.finish();
    expect(await Promise.all(runs)).toEqual(["a", "b", "c", "d"]);
    expect(q.stats()).toEqual({ running: 0, waiting: 0, sources: 0 });
  });

  it("takes turns between sources: a flooding source cannot make another wait behind its line", async () => {
    const q = new FairQueue({ concurrency: 1, maxWaitingPerSource: 10, maxWaiting: 100 });
    const log: string[] = [];
    const flood = Array.from({ length: 6 }, (_, i) => gate(log, `flood${i}`));
    const floodRuns = flood.map((g) => q.run("10.0.0.1", g.task));
    const other = gate(log, "other");
    const otherRun = q.run("10.0.0.2", other.task);
    await tick();
    expect(log).toEqual(["flood0"]);
    flood[0]?.finish();
    await tick();
    // The flood's second task had its turn (its line came first), then the other source.
    expect(log).toEqual(["flood0", "flood1"]);
    flood[1]?.finish();
    await tick();
    expect(log).toEqual(["flood0", "flood1", "other"]);
    other.finish();
    await otherRun;
    for (const g of flood) g.finish();
    await Promise.all(floodRuns);
    expect(log.slice(3)).toEqual(["flood2", "flood3", "flood4", "flood5"]);
  });

  it("serves three sources round-robin", async () => {
    const q = new FairQueue({ concurrency: 1, maxWaitingPerSource: 10, maxWaiting: 100 });
    const log: string[] = [];
    const first = gate(log, "x0");
    const runs: Promise<string>[] = [q.run("x", first.task)];
    const rest: Array<ReturnType<typeof gate>> = [];
    for (const [i, s] of ["a", "a", "a", "b", "b", "c"].entries()) {
      const g = gate(log, `${s}${i}`);
      rest.push(g);
      runs.push(q.run(s, g.task));
    }
    first.finish();
    for (const g of rest) g.finish();
    await Promise.all(runs);
    expect(log.map((n) => n[0])).toEqual(["x", "a", "b", "c", "a", "b", "a"]);
  });

  it("bounds what one source may have waiting, at once and without running the task", async () => {
    const q = new FairQueue({ concurrency: 1, maxWaitingPerSource: 2, maxWaiting: 100 });
    const log: string[] = [];
    const gates = Array.from({ length: 3 }, (_, i) => gate(log, `g${i}`));
    const runs = gates.map((g) => q.run("ip", g.task));
    let ran = false;
    const refused = q.run("ip", async () => {
      ran = true;
    });
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toMatchObject({ scope: "source" });
    // Another source still gets in line.
    const other = gate(log, "other");
    const otherRun = q.run("other-ip", other.task);
    expect(q.stats().waiting).toBe(3);
    for (const g of [...gates, other]) g.finish();
    await Promise.all([...runs, otherRun]);
    expect(ran).toBe(false);
  });

  it("bounds what all sources together may have waiting", async () => {
    const q = new FairQueue({ concurrency: 1, maxWaitingPerSource: 5, maxWaiting: 2 });
    const log: string[] = [];
    const gates = Array.from({ length: 3 }, (_, i) => gate(log, `g${i}`));
    const runs = gates.map((g, i) => q.run(`s${i}`, g.task));
    await expect(q.run("s9", async () => "late")).rejects.toMatchObject({ scope: "total" });
    for (const g of gates) g.finish();
    await Promise.all(runs);
    // Room again once the line has moved.
    expect(await q.run("s9", async () => "later")).toBe("later");
  });

  it("a failing task frees its slot", async () => {
    const q = new FairQueue({ concurrency: 1, maxWaitingPerSource: 5, maxWaiting: 5 });
    await expect(
      q.run("s", async () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await q.run("s", async () => 1)).toBe(1);
    expect(q.stats()).toEqual({ running: 0, waiting: 0, sources: 0 });
  });
});
