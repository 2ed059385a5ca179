import { describe, expect, it } from "vitest";
import { RestartBudget, WORKER_RESTARTS } from "../../../src/cli/cluster/restart-budget.js";
import { ManualClock } from "../../../src/clock.js";

describe("the workers' restart budget", () => {
  it("allows max restarts within any window, then refuses until the oldest leaves it", () => {
    const clock = new ManualClock();
    const budget = new RestartBudget(clock, { max: 3, windowMs: 60_000 });
    expect([budget.take(), budget.take(), budget.take()]).toEqual([true, true, true]);
    expect(budget.take()).toBe(false);
    clock.advance(59_999);
    expect(budget.take()).toBe(false);
    clock.advance(1); // the first three are a window old now
    expect([budget.take(), budget.take(), budget.take()]).toEqual([true, true, true]);
    expect(budget.take()).toBe(false);
  });

  it("restarts spread out over time never run out", () => {
    const clock = new ManualClock();
    const budget = new RestartBudget(clock, { max: 2, windowMs: 1000 });
    for (let i = 0; i < 50; i++) {
      expect(budget.take()).toBe(true);
      clock.advance(600);
    }
  });

  it("serve --workers: at most 5 replacements a minute", () => {
    expect(WORKER_RESTARTS).toEqual({ max: 5, windowMs: 60_000 });
    const clock = new ManualClock();
    const budget = new RestartBudget(clock);
    for (let i = 0; i < 5; i++) expect(budget.take()).toBe(true);
    expect(budget.take()).toBe(false);
  });
});
