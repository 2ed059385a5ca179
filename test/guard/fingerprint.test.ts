/**
 * Fingerprint binding (OWASP token sidejacking): for a `fingerprint: true` client, Tessera
 * sets `__Host-fgp=<random>` with the token and puts base64url(SHA-256(value)) in the
 * token (JWT claim or introspection member `fgp`). The guard accepts such a token only
 * with exactly one matching cookie — on every verify, cache hits included — and, with
 * the check off, refuses it rather than treat it as a plain bearer token.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { createGuard } from "../../src/guard/index.js";
import { type Live, live } from "./live.js";
import {
  AUDIENCE,
  bearer,
  claims,
  ED,
  expectReason,
  ISSUER,
  mint,
  NOW_MS,
  testGuard,
} from "./support.js";

const sha = (v: string) => createHash("sha256").update(v).digest("base64url");

async function setup(tokenFormat: "jwt" | "opaque") {
  const l = await live();
  const spa = await l.client({ id: `spa-${tokenFormat}`, tokenFormat, fingerprint: true });
  const first = await l.token(spa.id, spa.secret);
  const second = await l.token(spa.id, spa.secret);
  return { l, spa, first, second };
}

const withCookie = (token: string, cookie: string) => ({
  authorization: `Bearer ${token}`,
  cookie,
});

describe.each(["jwt", "opaque"] as const)("guard: fingerprint-bound %s tokens", (format) => {
  it("Tessera sets the cookie and binds the token to its hash", async () => {
    const { l, first } = await setup(format);
    expect(first.fgp).toMatch(/^[\w-]{43}$/);
    const p = await l
      .guard({ fingerprint: true })
      .verify(withCookie(first.token, `__Host-fgp=${first.fgp}`));
    expect(p.credential).toBe(format);
    expect(p.claims.fgp).toBe(sha(first.fgp as string));
  });

  it("accepted with the right cookie, among others", async () => {
    const { l, first } = await setup(format);
    const guard = l.guard({ fingerprint: true });
    for (const cookie of [
      `__Host-fgp=${first.fgp}`,
      `theme=dark; __Host-fgp=${first.fgp}; lang=en`,
      `__Host-session=abc;__Host-fgp=${first.fgp}`,
    ]) {
      await expect(guard.verify(withCookie(first.token, cookie))).resolves.toMatchObject({
        clientId: `spa-${format}`,
      });
    }
  });

  it("refused without the cookie, with another token's cookie, or with two cookies", async () => {
    const { l, first, second } = await setup(format);
    const guard = l.guard({ fingerprint: true });
    const refused = [
      { authorization: `Bearer ${first.token}` },
      withCookie(first.token, ""),
      withCookie(first.token, "theme=dark"),
      withCookie(first.token, `__Host-fgp=${second.fgp}`), // the other token's fingerprint
      withCookie(first.token, `__Host-fgp=${first.fgp}; __Host-fgp=${first.fgp}`),
      withCookie(first.token, `__Host-fgp=${second.fgp}; __Host-fgp=${first.fgp}`),
      withCookie(first.token, "__Host-fgp="),
      withCookie(first.token, `__Host-fgp="${first.fgp}"`),
      withCookie(first.token, `__host-fgp=${first.fgp}`), // cookie names are case-sensitive
      withCookie(first.token, `__Host-fgp=${sha(first.fgp as string)}`), // the hash itself
      withCookie(first.token, `fgp=${first.fgp}`),
    ];
    for (const input of refused) {
      const err = await expectReason(guard, input, "fingerprint_mismatch", 401);
      expect(err.code).toBe("invalid_token");
      for (const text of [err.message, err.description, err.wwwAuthenticate ?? ""]) {
        expect(text).not.toContain(first.fgp);
      }
    }
    // And the second token with its own cookie passes.
    await expect(
      guard.verify(withCookie(second.token, `__Host-fgp=${second.fgp}`)),
    ).resolves.toBeTruthy();
  });

  it("with the fingerprint check off, a bound token is refused (fingerprint_required)", async () => {
    const { l, first } = await setup(format);
    const guard = l.guard();
    await expectReason(
      guard,
      withCookie(first.token, `__Host-fgp=${first.fgp}`),
      "fingerprint_required",
      401,
    );
    await expectReason(guard, bearer(first.token), "fingerprint_required", 401);
    expect(guard.stats().cachedTokens).toBe(0);
  });

  it("tokens without fgp are unaffected by the option", async () => {
    const l = await live();
    const svc = await l.client({ id: "svc", tokenFormat: format });
    const { token, fgp } = await l.token(svc.id, svc.secret);
    expect(fgp).toBeUndefined();
    await expect(l.guard({ fingerprint: true }).verify(bearer(token))).resolves.toBeTruthy();
    await expect(l.guard().verify(bearer(token))).resolves.toBeTruthy();
  });

  it("a custom cookie name", async () => {
    const { l, first } = await setup(format);
    const guard = l.guard({ fingerprint: "fgp" });
    await expect(guard.verify(withCookie(first.token, `fgp=${first.fgp}`))).resolves.toBeTruthy();
    await expectReason(
      guard,
      withCookie(first.token, `__Host-fgp=${first.fgp}`),
      "fingerprint_mismatch",
    );
  });
});

describe("guard: the verified-token cache never skips the fingerprint check", () => {
  it("a cached JWT is checked against the cookie on every hit", async () => {
    const { l, first } = await setup("jwt");
    const guard: ReturnType<Live["guard"]> = l.guard({ fingerprint: true });
    const good = withCookie(first.token, `__Host-fgp=${first.fgp}`);
    await guard.verify(good);
    expect(guard.stats().cachedTokens).toBe(1);
    // The stolen token replayed without (or with a wrong) cookie: a cache hit, still refused.
    await expectReason(guard, bearer(first.token), "fingerprint_mismatch");
    await expectReason(guard, withCookie(first.token, "__Host-fgp=stolen"), "fingerprint_mismatch");
    expect(() => guard.verifySync(bearer(first.token))).toThrowError(
      expect.objectContaining({ reason: "fingerprint_mismatch" }),
    );
    expect(guard.verifySync(good).clientId).toBe("spa-jwt");
    await expect(guard.verify(good)).resolves.toBeTruthy();
    expect(guard.stats().cachedTokens).toBe(1);
  });
});

describe("guard: the fgp claim itself", () => {
  const value = "a-fingerprint-cookie-value";
  const inline = { clock: new ManualClock(NOW_MS) };

  it("must be a base64url SHA-256 (43 characters)", async () => {
    const { guard } = testGuard({ fingerprint: true, ...inline });
    for (const fgp of [
      sha(value).slice(0, 42),
      `${sha(value)}A`,
      `${sha(value).slice(0, 42)}=`,
      Buffer.from(createHash("sha256").update(value).digest()).toString("base64"), // padded
      1,
      null,
      [sha(value)],
    ]) {
      const token = mint(ED, { payload: claims({ fgp }) });
      await expectReason(guard, withCookie(token, `__Host-fgp=${value}`), "invalid_claim");
    }
    const token = mint(ED, { payload: claims({ fgp: sha(value) }) });
    await expect(guard.verify(withCookie(token, `__Host-fgp=${value}`))).resolves.toBeTruthy();
  });

  it("works with the token in a cookie too (both cookies in one header)", async () => {
    const { guard } = testGuard({ fingerprint: true, cookieName: "__Host-at", ...inline });
    const token = mint(ED, { payload: claims({ fgp: sha(value) }) });
    await expect(
      guard.verify({ cookie: `__Host-at=${token}; __Host-fgp=${value}` }),
    ).resolves.toMatchObject({ sub: "user-42" });
    await expectReason(guard, { cookie: `__Host-at=${token}` }, "fingerprint_mismatch");
  });

  it("options: true, false, or a cookie name distinct from cookieName", () => {
    const base = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ED.jwk] } };
    expect(() => createGuard({ ...base, fingerprint: false })).not.toThrow();
    expect(() => createGuard({ ...base, fingerprint: "my-fgp" })).not.toThrow();
    for (const fingerprint of ["", "bad name", "a;b", 1, {}]) {
      expect(() => createGuard({ ...base, fingerprint } as never)).toThrowError(/"fingerprint"/);
    }
    expect(() =>
      createGuard({ ...base, fingerprint: true, cookieName: "__Host-fgp" }),
    ).toThrowError(/"cookieName"/);
  });
});
