/**
 * The back-channel sender on its own, with an injected POST and an injected sleep (no
 * real waiting): bounded queue and concurrency, retries with exponential backoff, a
 * timeout per attempt, https-only except loopback, and a drain that never waits longer
 * than it is told.
 */
import { describe, expect, it } from "vitest";
import {
  type BackchannelEvent,
  BackchannelSender,
  isDeliverableUrl,
  type Poster,
} from "../../src/oidc/backchannel.js";

const OPTIONS = { maxQueued: 3, concurrency: 2, timeoutMs: 50, retries: 3, backoffMs: 1000 };
const delivery = (n = 1) => ({
  clientId: `c${n}`,
  url: "https://rp.example.com/bc",
  logoutToken: "t",
});

function harness(post: Poster) {
  const events: BackchannelEvent[] = [];
  const slept: number[] = [];
  const sender = new BackchannelSender(
    OPTIONS,
    (e) => events.push(e),
    post,
    async (ms) => {
      slept.push(ms);
    },
  );
  return { sender, events, slept };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("BackchannelSender", () => {
  it("a 200 is delivered at the first attempt, as a form with logout_token", async () => {
    const bodies: string[] = [];
    const { sender, events } = harness(async (_url, body) => {
      bodies.push(body);
      return 200;
    });
    expect(sender.send(delivery())).toBe(true);
    await sender.idle();
    expect(bodies).toEqual(["logout_token=t"]);
    expect(events).toEqual([{ kind: "delivered", clientId: "c1", attempts: 1 }]);
  });

  it("failures are retried with exponential backoff, then reported once", async () => {
    let calls = 0;
    const { sender, events, slept } = harness(async () => {
      calls++;
      return 503;
    });
    sender.send(delivery());
    await sender.idle();
    expect(calls).toBe(4);
    expect(slept).toEqual([1000, 4000, 16000]);
    expect(events).toEqual([{ kind: "failed", clientId: "c1", attempts: 4, reason: "status 503" }]);
  });

  it("a relying party that answers late is cut off by the timeout, then succeeds on retry", async () => {
    let calls = 0;
    const { sender, events } = harness(
      (_url, _body, signal) =>
        new Promise((resolve, reject) => {
          calls++;
          if (calls > 1) return resolve(204);
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    );
    sender.send(delivery());
    await sender.idle();
    expect(events).toEqual([{ kind: "delivered", clientId: "c1", attempts: 2 }]);
  });

  it("bounded: past maxQueued deliveries are dropped, at most `concurrency` run at once", async () => {
    let running = 0;
    let most = 0;
    const release: Array<() => void> = [];
    const { sender, events } = harness(async () => {
      running++;
      most = Math.max(most, running);
      await new Promise<void>((resolve) => release.push(resolve));
      running--;
      return 200;
    });
    expect([1, 2, 3, 4].map((n) => sender.send(delivery(n)))).toEqual([true, true, true, false]);
    expect(events).toEqual([{ kind: "dropped", clientId: "c4", reason: "queue_full" }]);
    await settle();
    expect(most).toBe(2);
    while (sender.pending > 0) {
      for (const r of release.splice(0)) r();
      await settle();
    }
    expect(events.filter((e) => e.kind === "delivered")).toHaveLength(3);
  });

  it("never contacts plain http except loopback", async () => {
    let calls = 0;
    const { sender, events } = harness(async () => {
      calls++;
      return 200;
    });
    expect(sender.send({ ...delivery(), url: "http://rp.example.com/bc" })).toBe(false);
    expect(calls).toBe(0);
    expect(events).toEqual([{ kind: "dropped", clientId: "c1", reason: "insecure_url" }]);
    expect(isDeliverableUrl("http://127.0.0.1:3000/bc")).toBe(true);
    expect(isDeliverableUrl("http://localhost/bc")).toBe(true);
    expect(isDeliverableUrl("https://rp.example.com/bc")).toBe(true);
    expect(isDeliverableUrl("ftp://rp.example.com/bc")).toBe(false);
    expect(isDeliverableUrl("not a url")).toBe(false);
  });

  it("drain waits no longer than told for a relying party that never answers", async () => {
    const sleeps: number[] = [];
    const sender = new BackchannelSender(
      { ...OPTIONS, timeoutMs: 60_000 },
      () => {},
      () => new Promise(() => {}),
      async (ms) => {
        sleeps.push(ms);
      },
    );
    sender.send(delivery());
    await sender.drain(3000);
    expect(sleeps).toEqual([3000]);
    expect(sender.pending).toBe(1);
    sender.close();
    expect(sender.send(delivery(2))).toBe(false);
  });
});
