import { describe, expect, it } from "vitest";
import { cutoffSecond, endedByUser, issuedBefore, mintIat } from "../../src/users/cutoff.js";

/** A whole second. */
const S = Date.UTC(2026, 0, 1);

describe("the user-cutoff rule", () => {
  it("a cutoff at …400 ms: …350 refused, …400, …450, …999 and the next second accepted", () => {
    const c = S + 400;
    expect(cutoffSecond(c)).toBe(S / 1000 + 1);
    // Minted before the cutoff, under the previous one (none).
    expect(mintIat(S + 350)).toBe(S / 1000);
    expect(issuedBefore(c, { iat: mintIat(S + 350) })).toBe(true);
    expect(issuedBefore(c, { ms: S + 350 })).toBe(true);
    for (const m of [S + 400, S + 450, S + 999, S + 1000, S + 1400]) {
      const iat = mintIat(m, c);
      expect(iat).toBe(S / 1000 + 1);
      expect(issuedBefore(c, { iat })).toBe(false);
      expect(issuedBefore(c, { ms: m })).toBe(false);
    }
  });

  it("a cutoff on a whole second: a millisecond before refused, at it accepted, iat not raised", () => {
    const c = S;
    expect(cutoffSecond(c)).toBe(S / 1000);
    expect(issuedBefore(c, { iat: mintIat(S - 1) })).toBe(true);
    expect(issuedBefore(c, { ms: S - 1 })).toBe(true);
    expect(mintIat(S, c)).toBe(S / 1000);
    expect(mintIat(S + 999, c)).toBe(S / 1000);
    expect(issuedBefore(c, { iat: mintIat(S, c) })).toBe(false);
    expect(issuedBefore(c, { ms: S })).toBe(false);
  });

  it("every millisecond around a cutoff: before → refused, at or after → accepted; iat < 1 s ahead", () => {
    const wrong: string[] = [];
    for (const offset of [0, 1, 400, 999]) {
      const c = S + offset;
      for (let m = S - 1000; m < S + 2000; m++) {
        // A mint before the cutoff saw the previous cutoff (none here) or, with another
        // instance's clock ahead, this one still in its future: either way iat is the floor.
        const seen = m >= c ? [c] : [0, c];
        for (const cutoffSeen of seen) {
          const iat = mintIat(m, cutoffSeen);
          const ok =
            iat * 1000 - m < 1000 &&
            iat >= Math.floor(m / 1000) &&
            issuedBefore(c, { iat }) === m < c;
          if (!ok)
            wrong.push(`cutoff +${offset} (seen ${cutoffSeen - S}), minted ${m - S}: iat ${iat}`);
        }
        if (issuedBefore(c, { ms: m }) !== m < c) wrong.push(`cutoff +${offset}, ms ${m - S}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("a later cutoff ends what the earlier one let through; a disabled user ends everything", () => {
    const user = { disabled: false, sessionsValidAfter: S + 400 };
    expect(endedByUser(user, { ms: S + 400 })).toBe(false);
    expect(endedByUser(user, { ms: S + 399 })).toBe(true);
    expect(
      endedByUser({ ...user, sessionsValidAfter: S + 2500 }, { iat: mintIat(S + 450, S + 400) }),
    ).toBe(true);
    expect(endedByUser({ ...user, disabled: true }, { ms: S + 5000 })).toBe(true);
    expect(endedByUser({ disabled: false, sessionsValidAfter: 0 }, { iat: 0 })).toBe(false);
  });
});
