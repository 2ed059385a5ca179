import { describe, expect, it } from "vitest";
import { type ApiAnswer, MEASURE_LIMITS, measureRevocation } from "../../src/demo/revoke.js";

const ACCEPTED: ApiAnswer = { status: 200 };
const REFUSED: ApiAnswer = { status: 401, error: "invalid_token", description: "revoked" };

/** A fake API refusing from its `refuseFrom`-th call after the revocation; a fake clock. */
function fake(refuseFrom: number, msPerCall = 2) {
  let t = 1000;
  let revoked = false;
  let after = 0;
  const log: string[] = [];
  return {
    log,
    now: () => t,
    steps: {
      call: async () => {
        t += msPerCall;
        log.push("call");
        if (!revoked) return ACCEPTED;
        after++;
        return after >= refuseFrom ? REFUSED : ACCEPTED;
      },
      revoke: async () => {
        t += 50; // the revocation's own time is not counted
        log.push("revoke");
        revoked = true;
      },
    },
  };
}

describe("measureRevocation", () => {
  it("calls once before, revokes, then calls until the first refusal; times from the acknowledgement", async () => {
    const f = fake(3);
    const r = await measureRevocation("jwt", f.steps, { now: f.now });
    expect(f.log).toEqual(["call", "revoke", "call", "call", "call"]);
    expect(r).toEqual({
      mechanism: "jwt",
      before: ACCEPTED,
      after: REFUSED,
      refused: true,
      elapsedMs: 6,
      calls: 3,
    });
  });

  it("gives up after maxCalls and says the token was still accepted", async () => {
    const f = fake(Number.POSITIVE_INFINITY);
    const r = await measureRevocation("opaque", f.steps, { now: f.now, maxCalls: 5 });
    expect(r.refused).toBe(false);
    expect(r.after).toEqual(ACCEPTED);
    expect(r.calls).toBe(5);
  });

  it("gives up once maxMs has passed", async () => {
    const f = fake(Number.POSITIVE_INFINITY, 100);
    const r = await measureRevocation("jwt", f.steps, { now: f.now, maxMs: 250 });
    expect(r.refused).toBe(false);
    expect(r.calls).toBe(3);
    expect(r.elapsedMs).toBe(300);
  });

  it("is bounded by default", async () => {
    const f = fake(Number.POSITIVE_INFINITY, 0);
    const r = await measureRevocation("jwt", f.steps, { now: f.now });
    expect(r.calls).toBe(MEASURE_LIMITS.maxCalls);
  });
});
