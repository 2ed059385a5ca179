import { describe, expect, it } from "vitest";
import {
  b64u,
  bearer,
  claims,
  ED,
  expectReason,
  header,
  mint,
  signBytes,
  testGuard,
} from "./support.js";

/** Signs arbitrary header/payload segments (already encoded) with ED. */
function signSegments(h: string, p: string): string {
  return `${h}.${p}.${b64u(signBytes(ED, `${h}.${p}`))}`;
}

describe("guard: token shape (compact JWS only)", () => {
  it("malformed: not three segments", async () => {
    const { guard } = testGuard();
    const [h, p, s] = mint(ED).split(".");
    for (const t of [
      `${h}`,
      `${h}.${p}`,
      `${h}.${p}.${s}.${s}`,
      `.${p}.${s}`,
      `${h}..${s}`,
      "..",
      "a.b.c.d.e.f",
    ]) {
      await expectReason(guard, bearer(t), "malformed");
    }
  });

  it("missing_signature: a stripped signature (h.p.) is refused", async () => {
    const { guard } = testGuard();
    const [h, p] = mint(ED).split(".");
    await expectReason(guard, bearer(`${h}.${p}.`), "missing_signature");
  });

  it("encrypted_token: five segments (JWE) are refused", async () => {
    const { guard } = testGuard();
    const jweHeader = b64u(JSON.stringify({ alg: "dir", enc: "A256GCM", kid: ED.kid }));
    await expectReason(guard, bearer(`${jweHeader}..aXY.Y2lwaGVy.dGFn`), "encrypted_token");
    await expectReason(guard, bearer(`${jweHeader}.a2V5.aXY.Y2lwaGVy.dGFn`), "encrypted_token");
  });

  it("json_serialization: a JWS in JSON serialization is refused (cookie path)", async () => {
    const { guard } = testGuard({ cookieName: "at" });
    const [h, p, s] = mint(ED).split(".");
    const json = JSON.stringify({ payload: p, protected: h, signature: s });
    await expectReason(guard, { cookie: `at=${json}` }, "json_serialization");
    // In an Authorization header it is not even Bearer syntax.
    await expectReason(guard, { authorization: `Bearer ${json}` }, "malformed_authorization", 400);
  });

  it("malformed: padding, standard-alphabet characters and other bytes inside segments", async () => {
    const { guard } = testGuard({ cookieName: "at" });
    const t = mint(ED);
    const [h, p = "", s] = t.split(".");
    const variants = [
      `${h}.${p}.${s}==`, // padding (valid b64token, invalid base64url)
      `${h}.${p.slice(0, 4)}+${p.slice(5)}.${s}`, // standard alphabet
      `${h}.${p.slice(0, 4)}/${p.slice(5)}.${s}`,
      `${h}.${p}.${s}~`,
    ];
    for (const v of variants) await expectReason(guard, bearer(v), "malformed");
    // Bytes Buffer.from(..., "base64url") would silently skip, smuggled via the cookie.
    for (const v of [
      `${h}=.${p}.${s}`,
      `${h}.${p} .${s}`,
      `${h}.${p}\u00e9.${s}`,
      `${h}.\u0000${p}.${s}`,
      `${h}.${p}.${s}%3D`,
    ]) {
      await expectReason(guard, { cookie: `at=${v}` }, "malformed");
    }
  });

  it("malformed: non-canonical base64url (non-zero trailing bits) in the signature", async () => {
    const { guard } = testGuard();
    const t = mint(ED);
    const last = t.at(-1) ?? "";
    // 64 bytes = 86 chars: the last char carries 4 data bits + 2 spare bits. Flip a spare bit.
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const twin = alphabet[alphabet.indexOf(last) ^ 1] ?? "";
    const variant = t.slice(0, -1) + twin;
    expect(Buffer.from(variant.split(".")[2] ?? "", "base64url")).toEqual(
      Buffer.from(t.split(".")[2] ?? "", "base64url"),
    );
    await expectReason(guard, bearer(variant), "malformed");
  });

  it("malformed: a segment of length 1 mod 4 cannot be base64url", async () => {
    const { guard } = testGuard();
    const [h, p, s] = mint(ED).split(".");
    await expectReason(guard, bearer(`${h}.AAAAA.${s}`), "malformed");
    await expectReason(guard, bearer(`${h}.${p}.${s}AAAA`), "bad_signature");
  });

  it("malformed: header that is not a JSON object (array, string, null, number, garbage)", async () => {
    const { guard } = testGuard();
    const [, p, s] = mint(ED).split(".");
    for (const json of ["[]", '"at+jwt"', "null", "42", "true", "{", "{'alg':'EdDSA'}", "", " "]) {
      if (json === "") continue; // an empty segment is a shape error, tested above
      await expectReason(guard, bearer(`${b64u(json)}.${p}.${s}`), "malformed");
    }
  });

  it("malformed: header with a BOM, invalid UTF-8 or an overlong encoding", async () => {
    const { guard } = testGuard();
    const [, p, s] = mint(ED).split(".");
    const json = JSON.stringify(header(ED));
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);
    const latin1 = Buffer.from(json.replace("at+jwt", "at+jwt\u00e9"), "latin1"); // lone 0xE9
    const overlong = Buffer.from(json.replace('"kid"', '"ki\u0000"'));
    overlong[overlong.indexOf(0)] = 0xc1; // C1 xx: overlong
    for (const bytes of [bom, latin1, overlong]) {
      await expectReason(guard, bearer(`${b64u(bytes)}.${p}.${s}`), "malformed");
    }
  });

  it("malformed: an oversized header is refused before JSON parsing", async () => {
    const { guard } = testGuard();
    const big = header(ED, { pad: "x".repeat(2000) });
    await expectReason(guard, bearer(mint(ED, { header: big })), "malformed");
  });

  it("duplicate_key: a repeated header parameter (parser differential)", async () => {
    const { guard } = testGuard();
    const h = `{"alg":"none","typ":"at+jwt","kid":"${ED.kid}","alg":"EdDSA"}`;
    await expectReason(guard, bearer(mint(ED, { header: h })), "duplicate_key");
  });

  it("duplicate_key: a repeated claim, even spelled with escapes, and in nested objects", async () => {
    const { guard } = testGuard();
    const base = JSON.stringify(claims());
    const dup1 = base.replace(/}$/, ',"sub":"admin"}');
    const dup2 = base.replace(/}$/, ',"\\u0073ub":"admin"}');
    const dup3 = base.replace(/}$/, ',"ext":{"a":1,"a":2}}');
    for (const payload of [dup1, dup2, dup3]) {
      await expectReason(guard, bearer(mint(ED, { payload })), "duplicate_key");
    }
    // Same names in different objects are fine.
    const ok = base.replace(/}$/, ',"ext":{"sub":1,"x":{"sub":2}}}');
    await expect(guard.verify(bearer(mint(ED, { payload: ok })))).resolves.toBeTruthy();
  });

  it("malformed: __proto__ members cannot reach any prototype", async () => {
    const { guard } = testGuard();
    const base = JSON.stringify(claims());
    const payloads = [
      base.replace(/}$/, ',"__proto__":{"admin":true}}'),
      base.replace(/}$/, ',"ext":{"__proto__":{"admin":true}}}'),
      base.replace(/}$/, ',"\\u005f_proto__":{"admin":true}}'),
    ];
    for (const payload of payloads) {
      await expectReason(guard, bearer(mint(ED, { payload })), "malformed");
    }
    const h = `{"alg":"EdDSA","typ":"at+jwt","kid":"${ED.kid}","__proto__":{"polluted":1}}`;
    await expectReason(guard, bearer(mint(ED, { header: h })), "malformed");
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("malformed: a validly signed payload that is not a JSON object or not UTF-8", async () => {
    const { guard } = testGuard();
    const h = b64u(JSON.stringify(header(ED)));
    for (const payload of ["[]", '"sub"', "null", "123", "{"]) {
      await expectReason(guard, bearer(signSegments(h, b64u(payload))), "malformed");
    }
    const invalidUtf8 = Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]); // {"\xff":1}
    await expectReason(guard, bearer(signSegments(h, b64u(invalidUtf8))), "malformed");
  });

  it("deeply nested JSON neither crashes nor slips through", async () => {
    const { guard } = testGuard({ maxTokenLength: 65536 });
    const deep = `${"[".repeat(300)}${"]".repeat(300)}`;
    const [, p, s] = mint(ED).split(".");
    await expectReason(guard, bearer(`${b64u(deep)}.${p}.${s}`), "malformed");
    const nested = `${'{"a":'.repeat(5000)}1${"}".repeat(5000)}`;
    const payload = JSON.stringify(claims()).replace(/}$/, `,"ext":${nested}}`);
    const principal = await guard.verify(bearer(mint(ED, { payload })));
    expect(principal.sub).toBe("user-42");
  });
});
