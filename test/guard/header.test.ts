import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
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
  mintHmac,
  testGuard,
} from "./support.js";

describe("guard: the token never chooses the algorithm", () => {
  it("alg_not_allowed: `none` in any spelling, with or without a signature", async () => {
    const { guard } = testGuard();
    const p = b64u(JSON.stringify(claims()));
    const realSig = mint(ED).split(".")[2];
    for (const alg of ["none", "None", "NONE", "nOnE", " none", "none "]) {
      const h = b64u(JSON.stringify(header(ED, { alg })));
      await expectReason(guard, bearer(`${h}.${p}.${realSig}`), "alg_not_allowed");
      await expectReason(guard, bearer(`${h}.${p}.AAAA`), "alg_not_allowed");
      await expectReason(guard, bearer(`${h}.${p}.`), "missing_signature");
    }
  });

  it("alg_not_allowed: HS256 keyed with our public key as PEM, JWK JSON or raw x (CVE-2015-9235 / CVE-2016-10555)", async () => {
    const { guard } = testGuard();
    const pem = ED.publicKey.export({ format: "pem", type: "spki" }).toString();
    const der = ED.publicKey.export({ format: "der", type: "spki" });
    const jwkJson = JSON.stringify(ED.jwk);
    const rawX = Buffer.from(String(ED.jwk.x), "base64url");
    const secrets: (string | Buffer)[] = [pem, pem.trim(), der, jwkJson, String(ED.jwk.x), rawX];
    for (const alg of ["HS256", "HS384", "HS512", "hs256"]) {
      for (const secret of secrets) {
        const t = mintHmac(secret, { alg, typ: "at+jwt", kid: ED.kid });
        await expectReason(guard, bearer(t), "alg_not_allowed");
      }
    }
    // Also against an EC key's PEM.
    const ecPem = EC.publicKey.export({ format: "pem", type: "spki" }).toString();
    await expectReason(
      guard,
      bearer(mintHmac(ecPem, { alg: "HS256", typ: "at+jwt", kid: EC.kid })),
      "alg_not_allowed",
    );
  });

  it("RS256 goes through the allow-list like the others: refused by a guard allowing only ES256", async () => {
    const rs = makeKey("RS256", "rs-1");
    const { guard } = testGuard({ algorithms: ["ES256"], jwks: { keys: [EC.jwk, rs.jwk] } });
    await expect(guard.verify(bearer(mint(EC)))).resolves.toBeTruthy();
    await expectReason(guard, bearer(mint(rs)), "alg_not_allowed");
    // Nor can the token talk its way in through a key that is allowed.
    await expectReason(guard, bearer(mint({ ...rs, kid: EC.kid })), "alg_not_allowed");
    // The default allow-list (what Tessera signs with) takes it.
    const byDefault = testGuard({ jwks: { keys: [EC.jwk, rs.jwk] } }).guard;
    await expect(byDefault.verify(bearer(mint(rs)))).resolves.toBeTruthy();
  });

  it("alg_not_allowed: HS256 keyed with our RSA public key as PEM, DER, JWK JSON or raw n", async () => {
    const rs = makeKey("RS256", "rs-1");
    const { guard } = testGuard({ jwks: { keys: [rs.jwk, EC.jwk] } });
    const pem = rs.publicKey.export({ format: "pem", type: "spki" }).toString();
    const pkcs1 = rs.publicKey.export({ format: "pem", type: "pkcs1" }).toString();
    const der = rs.publicKey.export({ format: "der", type: "spki" });
    const secrets: (string | Buffer)[] = [
      pem,
      pem.trim(),
      pkcs1,
      der,
      JSON.stringify(rs.jwk),
      String(rs.jwk.n),
      Buffer.from(String(rs.jwk.n), "base64url"),
    ];
    for (const alg of ["HS256", "HS384", "HS512"]) {
      for (const secret of secrets) {
        const t = mintHmac(secret, { alg, typ: "at+jwt", kid: rs.kid });
        await expectReason(guard, bearer(t), "alg_not_allowed");
      }
    }
    // `none` naming the RSA key, with or without a real RS256 signature.
    const p = b64u(JSON.stringify(claims()));
    const h = b64u(JSON.stringify(header(rs, { alg: "none" })));
    await expectReason(guard, bearer(`${h}.${p}.${mint(rs).split(".")[2]}`), "alg_not_allowed");
  });

  it("key_alg_mismatch: the RSA key named by an ES256/EdDSA header, an EC key named by RS256", async () => {
    const rs = makeKey("RS256", "rs-1");
    const { guard } = testGuard({ jwks: { keys: [rs.jwk, EC.jwk, ED.jwk] } });
    await expect(guard.verify(bearer(mint(rs)))).resolves.toBeTruthy();
    await expectReason(guard, bearer(mint({ ...makeKey("ES256", rs.kid) })), "key_alg_mismatch");
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", rs.kid) })), "key_alg_mismatch");
    await expectReason(guard, bearer(mint({ ...makeKey("RS256", EC.kid) })), "key_alg_mismatch");
  });

  it("alg_not_allowed: a supported algorithm outside the configured allow-list", async () => {
    const rs = makeKey("RS256", "rs-1");
    const { guard } = testGuard({
      algorithms: ["EdDSA"],
      jwks: { keys: [ED.jwk, EC.jwk, rs.jwk] },
    });
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    await expectReason(guard, bearer(mint(EC)), "alg_not_allowed");
    await expectReason(guard, bearer(mint(rs)), "alg_not_allowed");
  });

  it("alg_not_allowed: unknown and look-alike algorithm names", async () => {
    const { guard } = testGuard();
    for (const alg of [
      "Ed25519",
      "EDDSA",
      "eddsa",
      "ES256K",
      "ES512",
      "RS1",
      "EdDSA\u0000",
      "ES256 ",
    ]) {
      await expectReason(
        guard,
        bearer(mint(ED, { header: header(ED, { alg }) })),
        "alg_not_allowed",
      );
    }
  });

  it("malformed: alg missing or not a string", async () => {
    const { guard } = testGuard();
    for (const alg of [undefined, 1, null, ["EdDSA"], { name: "EdDSA" }]) {
      await expectReason(guard, bearer(mint(ED, { header: header(ED, { alg }) })), "malformed");
    }
  });

  it("key_alg_mismatch: an Ed25519 key named by an ES256 header (signed with a P-256 key)", async () => {
    const { guard } = testGuard();
    // Attacker signs with some P-256 key and points kid at our Ed25519 key.
    const forged = mint({ ...makeKey("ES256", ED.kid) });
    await expectReason(guard, bearer(forged), "key_alg_mismatch");
    // And the other way round: the P-256 key named by an EdDSA header.
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", EC.kid) })), "key_alg_mismatch");
  });

  it("key_alg_mismatch: a P-256 key with an ES384 header", async () => {
    const p384 = makeKey("ES384", "p384");
    const { guard } = testGuard({
      algorithms: ["ES256", "ES384"],
      jwks: { keys: [EC.jwk, p384.jwk] },
    });
    await expectReason(guard, bearer(mint({ ...p384, kid: EC.kid })), "key_alg_mismatch");
  });

  it("key_alg_mismatch: an RSA key declared RS256 used with PS256", async () => {
    const rs = makeKey("RS256", "rs-1");
    const { guard } = testGuard({ algorithms: ["RS256", "PS256"], jwks: { keys: [rs.jwk] } });
    await expect(guard.verify(bearer(mint(rs)))).resolves.toBeTruthy();
    await expectReason(guard, bearer(mint({ ...rs, alg: "PS256" })), "key_alg_mismatch");
  });
});

describe("guard: header parameters", () => {
  it("wrong_typ: missing, JWT, an ID token's typ, or a non-string", async () => {
    const { guard } = testGuard();
    for (const typ of [
      undefined,
      "JWT",
      "jwt",
      "at+jwt ",
      "application/jwt",
      "dpop+jwt",
      "at+jwt;x",
      1,
      null,
    ]) {
      await expectReason(guard, bearer(mint(ED, { header: header(ED, { typ }) })), "wrong_typ");
    }
  });

  it("forbidden_header: jwk, jku, x5u, x5c are refused and never fetched (CVE-2018-0114, SSRF)", async () => {
    const fetch = vi.fn(async () => new Response("{}", { status: 500 }));
    const { guard } = testGuard({ fetch });
    const attacker = generateKeyPairSync("ed25519");
    const attackerJwk = { ...attacker.publicKey.export({ format: "jwk" }), kid: ED.kid };
    const attackerKey = { ...ED, privateKey: attacker.privateKey, publicKey: attacker.publicKey };
    const params: Record<string, unknown>[] = [
      { jwk: attackerJwk },
      { jku: "https://attacker.example/jwks.json" },
      { x5u: "https://attacker.example/cert.pem" },
      { x5c: ["MIIBszCCAVmgAwIBAgIU"] },
    ];
    for (const extra of params) {
      // Signed with the embedded/attacker key...
      await expectReason(
        guard,
        bearer(mint(attackerKey, { header: header(ED, extra) })),
        "forbidden_header",
      );
      // ...and even correctly signed with ours: the parameter alone is enough.
      await expectReason(
        guard,
        bearer(mint(ED, { header: header(ED, extra) })),
        "forbidden_header",
      );
    }
    expect(fetch).not.toHaveBeenCalled();
  });

  it("forbidden_header: b64 (RFC 7797), zip, enc and cty (nested JWT) are refused", async () => {
    const { guard } = testGuard();
    for (const extra of [
      { b64: false },
      { b64: true },
      { zip: "DEF" },
      { enc: "A256GCM" },
      { cty: "JWT" },
    ]) {
      await expectReason(
        guard,
        bearer(mint(ED, { header: header(ED, extra) })),
        "forbidden_header",
      );
    }
  });

  it("crit_unsupported: any crit, including b64:false (RFC 7515 §4.1.11)", async () => {
    const { guard } = testGuard();
    for (const extra of [
      { crit: ["exp"] },
      { crit: [] },
      { crit: ["b64"], b64: false },
      { crit: "x" },
      { crit: null },
    ]) {
      await expectReason(
        guard,
        bearer(mint(ED, { header: header(ED, extra) })),
        "crit_unsupported",
      );
    }
  });

  it("missing_kid: a token without kid is refused even when only one key is published", async () => {
    const { guard } = testGuard({ jwks: { keys: [ED.jwk] } });
    await expectReason(
      guard,
      bearer(mint(ED, { header: header(ED, { kid: undefined }) })),
      "missing_kid",
    );
  });

  it("malformed: kid that is empty or not a string", async () => {
    const { guard } = testGuard();
    for (const kid of ["", 1, null, ["ed-1"], { $ne: null }]) {
      await expectReason(guard, bearer(mint(ED, { header: header(ED, { kid }) })), "malformed");
    }
  });

  it("unknown_kid: kid injection (path traversal, SQL, prototype names) is only a map miss", async () => {
    const fetch = vi.fn(async () => new Response("{}", { status: 500 }));
    const { guard } = testGuard({ fetch });
    const kids = [
      "../../../../dev/null",
      "/etc/passwd",
      "' OR '1'='1",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      `${ED.kid} `,
      ED.kid.toUpperCase(),
      "https://attacker.example/key",
    ];
    for (const kid of kids) {
      const forged = mint({ ...ED, kid }, { header: header(ED, { kid }) });
      await expectReason(guard, bearer(forged), "unknown_kid");
    }
    // An inline JWKS is never refetched.
    expect(fetch).not.toHaveBeenCalled();
  });
});
