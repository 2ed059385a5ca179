import { sign as nodeSign } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  b64u,
  bearer,
  claims,
  EC,
  ED,
  expectReason,
  header,
  makeKey,
  mint,
  testGuard,
} from "./support.js";

/** Order of the P-256 group. */
const N_P256 = BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");

function toBytes(n: bigint, len: number): Buffer {
  return Buffer.from(n.toString(16).padStart(len * 2, "0"), "hex");
}

describe("guard: signatures", () => {
  it("bad_signature: a tampered payload (privilege escalation attempt)", async () => {
    const { guard } = testGuard();
    for (const key of [ED, EC]) {
      const [h, , s] = mint(key).split(".");
      const p = b64u(JSON.stringify(claims({ sub: "admin", scope: "admin" })));
      await expectReason(guard, bearer(`${h}.${p}.${s}`), "bad_signature");
    }
  });

  it("bad_signature: a tampered header (signing input covers it)", async () => {
    const { guard } = testGuard();
    const [, p, s] = mint(ED).split(".");
    const h = b64u(JSON.stringify(header(ED, { typ: "AT+JWT" })));
    await expectReason(guard, bearer(`${h}.${p}.${s}`), "bad_signature");
  });

  it("bad_signature: signed by another key under our kid", async () => {
    const { guard } = testGuard();
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", ED.kid) })), "bad_signature");
    await expectReason(guard, bearer(mint({ ...makeKey("ES256", EC.kid) })), "bad_signature");
  });

  it("bad_signature: psychic signatures r = s = 0 and r = s = n (CVE-2022-21449)", async () => {
    const { guard } = testGuard();
    const [h, p] = mint(EC).split(".");
    const zero = Buffer.alloc(64);
    const n = Buffer.concat([toBytes(N_P256, 32), toBytes(N_P256, 32)]);
    const rZero = Buffer.concat([Buffer.alloc(32), Buffer.alloc(32, 1)]);
    const sZero = Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(32)]);
    for (const sig of [zero, rZero, sZero]) {
      const err = await expectReason(guard, bearer(`${h}.${p}.${b64u(sig)}`), "bad_signature");
      expect(err.description).toMatch(/zero r or s/); // refused before OpenSSL sees it
    }
    // r = s = n (≡ 0 mod n): OpenSSL's range check.
    await expectReason(guard, bearer(`${h}.${p}.${b64u(n)}`), "bad_signature");
  });

  it("bad_signature: an all-zero Ed25519 signature", async () => {
    const { guard } = testGuard();
    const [h, p] = mint(ED).split(".");
    await expectReason(guard, bearer(`${h}.${p}.${b64u(Buffer.alloc(64))}`), "bad_signature");
  });

  it("bad_signature: a DER-encoded ES256 signature (JWS requires raw r||s)", async () => {
    const { guard } = testGuard();
    const t = mint(EC);
    const [h, p] = t.split(".");
    const der = nodeSign("sha256", Buffer.from(`${h}.${p}`), EC.privateKey); // DER by default
    await expectReason(guard, bearer(`${h}.${p}.${b64u(der)}`), "bad_signature");
  });

  it("bad_signature: wrong lengths (truncated, extended, ES384-sized for ES256)", async () => {
    const { guard } = testGuard();
    for (const key of [ED, EC]) {
      const [h, p, s] = mint(key).split(".");
      const sig = Buffer.from(s ?? "", "base64url");
      for (const bad of [
        sig.subarray(0, 63),
        Buffer.concat([sig, Buffer.alloc(1)]),
        Buffer.alloc(96, 7),
      ]) {
        await expectReason(guard, bearer(`${h}.${p}.${b64u(bad)}`), "bad_signature");
      }
    }
  });

  it("ECDSA high-S twins are accepted (decision: malleability is harmless here, see src/guard/README.md)", async () => {
    const revoked = new Set<string>();
    const { guard } = testGuard({ denylist: { isRevoked: (jti) => revoked.has(jti) } });
    const t = mint(EC);
    const [h, p, s] = t.split(".");
    const sig = Buffer.from(s ?? "", "base64url");
    const r = sig.subarray(0, 32);
    const sVal = BigInt(`0x${sig.subarray(32).toString("hex")}`);
    const twin = `${h}.${p}.${b64u(Buffer.concat([r, toBytes(N_P256 - sVal, 32)]))}`;
    expect(twin).not.toBe(t);
    expect((await guard.verify(bearer(twin))).sub).toBe("user-42");
    // Both encodings are the same token for revocation: the denylist keys on (jti, iss).
    revoked.add("jti-0001");
    await expectReason(guard, bearer(t), "revoked");
    await expectReason(guard, bearer(twin), "revoked");
  });

  it("bad_signature: an EdDSA signature with S >= L (non-canonical, RFC 8032 §5.1.7)", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    const [h, p, s] = t.split(".");
    const sig = Buffer.from(s ?? "", "base64url");
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const S = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString("hex")}`);
    const bigS = Buffer.from(toBytes(S + L, 32)).reverse();
    const forged = `${h}.${p}.${b64u(Buffer.concat([sig.subarray(0, 32), bigS]))}`;
    await expectReason(guard, bearer(forged), "bad_signature");
  });
});
