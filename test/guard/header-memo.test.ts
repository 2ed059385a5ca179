/**
 * The header memo (jws.ts HeaderMemo): validated headers remembered by their segment once
 * a signature by a key of ours has been seen under them, the last one compared first.
 */
import { describe, expect, it } from "vitest";
import { ALGORITHMS, type Algorithm } from "../../src/guard/algorithms.js";
import { GuardError, type GuardReason } from "../../src/guard/errors.js";
import { importJwk, type VerificationKey } from "../../src/guard/jwks.js";
import { HeaderMemo } from "../../src/guard/jws.js";
import { verifySignature } from "../../src/guard/signature.js";
import {
  b64u,
  bearer,
  EC,
  ED,
  expectReason,
  header,
  makeKey,
  mint,
  signBytes,
  type TestKey,
  testGuard,
} from "./support.js";

const POLICY = {
  realm: "api",
  algorithms: new Set(Object.keys(ALGORITHMS) as Algorithm[]),
};
const scratch = Buffer.alloc(8192);

function keyOf(k: TestKey): VerificationKey {
  const key = importJwk(k.jwk, POLICY.algorithms);
  if (typeof key === "string") throw new Error(key);
  return key;
}

function reasonOf(fn: () => unknown): GuardReason | "accepted" {
  try {
    fn();
    return "accepted";
  } catch (err) {
    expect(err).toBeInstanceOf(GuardError);
    return (err as GuardError).reason;
  }
}

/** Signs `h.p` (segments already encoded) with `key`. */
function signed(key: TestKey, h: string, p: string): string {
  return `${h}.${p}.${b64u(signBytes(key, `${h}.${p}`))}`;
}

describe("guard: the header memo", () => {
  it("the last header again: the rest of the token gets the same refusals as without the memo", async () => {
    const token = mint(EC);
    const [h, p, s] = token.split(".") as [string, string, string];
    const variants = [
      `${h}.${p}+x.${s}`,
      `${h}.${p}.${s}.${s}`,
      `${h}.${p}.`,
      `${h}.${p}.${s}=`,
      `${h}.${p}.${s}.x.y`,
      `${h}..${s}`,
      `${h}.`,
      `${h}.${p}`,
      `${h}.${p}.${s}!`,
      `${h}.${p}.${s.slice(0, -1)}`,
      `${h}.${p}.${s}A`,
      `${h}.${p}A.${s}`,
      `${h}A.${p}.${s}`,
      `${h}`,
    ];
    const memoised = testGuard().guard;
    await memoised.verify(bearer(token)); // remembers h
    for (const t of variants) {
      const fresh = testGuard().guard;
      let expected: GuardReason | undefined;
      try {
        fresh.verifySync(bearer(t));
      } catch (err) {
        expected = (err as GuardError).reason;
      }
      expect(expected, t).toBeDefined();
      await expectReason(memoised, bearer(t), expected as GuardReason);
    }
    await expect(memoised.verify(bearer(token))).resolves.toMatchObject({ sub: "user-42" });
  });

  it("a tampered header is never served from it: each change is checked as a new header", async () => {
    const { guard } = testGuard();
    await guard.verify(bearer(mint(EC)));
    const p = mint(EC).split(".")[1] as string;
    const cases: [Record<string, unknown> | string, GuardReason][] = [
      [header(EC, { alg: "none" }), "alg_not_allowed"],
      [header(EC, { alg: "HS256" }), "alg_not_allowed"],
      [header(EC, { typ: "JWT" }), "wrong_typ"],
      [header(EC, { jku: "https://evil.example/jwks" }), "forbidden_header"],
      [header(EC, { crit: ["exp"] }), "crit_unsupported"],
      [header(EC, { kid: undefined }), "missing_kid"],
      [`{"alg":"ES256","alg":"ES256","typ":"at+jwt","kid":"${EC.kid}"}`, "duplicate_key"],
    ];
    for (const [h, reason] of cases) {
      const segment = b64u(typeof h === "string" ? h : JSON.stringify(h));
      await expectReason(guard, bearer(signed(EC, segment, p)), reason);
    }
    // The remembered header with one character more is another segment, refused as such.
    const [h0] = mint(EC).split(".");
    await expectReason(guard, bearer(signed(EC, `${h0}A`, p)), "malformed");
    await expect(guard.verify(bearer(mint(EC)))).resolves.toMatchObject({ sub: "user-42" });
  });

  it("a header memo hit still checks the header's alg against the key", () => {
    const memo = new HeaderMemo();
    const token = mint(EC);
    const first = memo.parse(token, true, POLICY, scratch);
    verifySignature(first, keyOf(EC), scratch, "api");
    memo.remember(first);
    const again = memo.parse(token, true, POLICY, scratch);
    expect(again.known).toBe(true);
    expect(again.header).toEqual({ alg: "ES256", kid: EC.kid });
    // The JWKS now has an Ed25519 key under that kid: the remembered ES256 header is refused.
    const rotated = keyOf(makeKey("EdDSA", EC.kid));
    expect(reasonOf(() => verifySignature(again, rotated, scratch, "api"))).toBe(
      "key_alg_mismatch",
    );
    // And a header remembered from the map (not the last one) likewise.
    const other = memo.parse(mint(ED), true, POLICY, scratch);
    verifySignature(other, keyOf(ED), scratch, "api");
    memo.remember(other);
    const fromMap = memo.parse(token, true, POLICY, scratch);
    expect(fromMap.known).toBe(true);
    expect(reasonOf(() => verifySignature(fromMap, rotated, scratch, "api"))).toBe(
      "key_alg_mismatch",
    );
  });

  it("remembers a header only after a valid signature, and stays bounded", () => {
    const memo = new HeaderMemo();
    const unsigned = memo.parse(mint(EC), true, POLICY, scratch);
    expect(unsigned.known).toBe(false);
    expect(memo.parse(mint(EC), true, POLICY, scratch).known).toBe(false);
    const key = keyOf(EC);
    for (let i = 0; i < 200; i++) {
      const jws = memo.parse(mint(EC, { header: header(EC, { n: i }) }), true, POLICY, scratch);
      expect(jws.known).toBe(false);
      verifySignature(jws, key, scratch, "api");
      memo.remember(jws);
      expect(memo.size).toBeLessThanOrEqual(64);
      expect(memo.parse(jws.token, true, POLICY, scratch).known).toBe(true);
    }
  });
});
