import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { FetchLike } from "../../src/guard/index.js";
import { importJwk } from "../../src/guard/jwks.js";
import {
  AUDIENCE,
  bearer,
  claims,
  EC,
  ED,
  expectReason,
  ISSUER,
  makeKey,
  mint,
  NOW_MS,
  testGuard,
} from "./support.js";

/** A fake issuer: serves whatever key set it currently has, counts requests. */
function fakeIssuer(keys: unknown[]) {
  const state = { keys, status: 200, body: undefined as string | undefined };
  const urls: string[] = [];
  const fetch = vi.fn<FetchLike>(async (url, init) => {
    urls.push(url);
    expect(init.redirect).toBe("error");
    expect(init.signal).toBeInstanceOf(AbortSignal);
    return new Response(state.body ?? JSON.stringify({ keys: state.keys }), {
      status: state.status,
      headers: { "content-type": "application/json" },
    });
  });
  return { state, urls, fetch };
}

function remoteGuard(issuer: ReturnType<typeof fakeIssuer>, extra = {}) {
  return testGuard({ jwks: undefined, fetch: issuer.fetch, ...extra });
}

describe("guard: JWKS from a URL", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("fetches the issuer's JWKS over HTTP (local server on 127.0.0.1)", async () => {
    let hits = 0;
    const server = createServer((req, res) => {
      hits++;
      expect(req.url).toBe("/.well-known/jwks.json");
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [ED.jwk, EC.jwk] }));
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const { port } = server.address() as AddressInfo;
      const issuer = `http://127.0.0.1:${port}`;
      const { guard } = testGuard({ issuer, jwks: undefined });
      const t = mint(ED, { payload: claims({ iss: issuer }) });
      const p = await guard.verify(bearer(t));
      expect(p.claims.iss).toBe(issuer);
      expect(hits).toBe(1);
      await guard.ready();
      expect(hits).toBe(1);
      expect(guard.stats().kids.sort()).toEqual([EC.kid, ED.kid].sort());
    } finally {
      server.close();
    }
  });

  it("defaults to the issuer's /.well-known/jwks.json and accepts a URL object", async () => {
    const a = fakeIssuer([ED.jwk]);
    const { guard } = remoteGuard(a);
    await guard.ready();
    expect(a.urls).toEqual([`${ISSUER}/.well-known/jwks.json`]);

    const b = fakeIssuer([ED.jwk]);
    const { guard: g2 } = testGuard({
      jwks: new URL("https://keys.example.test/k.json"),
      fetch: b.fetch,
    });
    await expect(g2.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    expect(b.urls).toEqual(["https://keys.example.test/k.json"]);
  });

  it("concurrent first requests share one fetch (single-flight)", async () => {
    const issuer = fakeIssuer([ED.jwk, EC.jwk]);
    const { guard } = remoteGuard(issuer);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => guard.verify(bearer(mint(EC)))),
    );
    expect(results).toHaveLength(20);
    expect(issuer.fetch).toHaveBeenCalledTimes(1);
  });

  it("key rotation: a new kid appears after a refetch and is accepted", async () => {
    const issuer = fakeIssuer([ED.jwk]);
    const { guard, clock } = remoteGuard(issuer);
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    const next = makeKey("EdDSA", "ed-2");
    issuer.state.keys = [ED.jwk, next.jwk];
    clock.advance(30_000); // the refetch interval since the first load
    await expect(guard.verify(bearer(mint(next)))).resolves.toBeTruthy();
    expect(issuer.fetch).toHaveBeenCalledTimes(2);
    // The old key is still published: its tokens stay valid.
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
  });

  it("unknown_kid: random kids cause at most one refetch per interval", async () => {
    const issuer = fakeIssuer([ED.jwk]);
    const { guard, clock } = remoteGuard(issuer, { jwksRefreshInterval: 30 });
    await guard.ready();
    expect(issuer.fetch).toHaveBeenCalledTimes(1);
    clock.advance(30_000);
    const forged = (i: number) => mint({ ...makeKey("EdDSA", `random-${i}`) });
    const tokens = Array.from({ length: 10 }, (_, i) => forged(i));
    await Promise.all(tokens.map((t) => expectReason(guard, bearer(t), "unknown_kid")));
    expect(issuer.fetch).toHaveBeenCalledTimes(2);
    for (const t of tokens) await expectReason(guard, bearer(t), "unknown_kid");
    clock.advance(29_999);
    await expectReason(guard, bearer(forged(99)), "unknown_kid");
    expect(issuer.fetch).toHaveBeenCalledTimes(2);
    clock.advance(1);
    await expectReason(guard, bearer(forged(100)), "unknown_kid");
    expect(issuer.fetch).toHaveBeenCalledTimes(3);
  });

  it("unknown_kid: a key removed from the JWKS stops verifying, cached tokens included", async () => {
    const next = makeKey("EdDSA", "ed-2");
    const issuer = fakeIssuer([ED.jwk, next.jwk]);
    const { guard, clock } = remoteGuard(issuer);
    const cached = mint(next);
    await expect(guard.verify(bearer(cached))).resolves.toBeTruthy();
    // The issuer drops ed-2 (compromised); a refresh is triggered by an unknown kid.
    issuer.state.keys = [ED.jwk];
    clock.advance(30_000);
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", "whatever") })), "unknown_kid");
    await expectReason(guard, bearer(cached), "unknown_kid");
    await expectReason(guard, bearer(mint(next)), "unknown_kid");
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
  });

  it("a key whose material changes under the same kid is a new key", async () => {
    const issuer = fakeIssuer([ED.jwk]);
    const { guard, clock } = remoteGuard(issuer);
    const old = mint(ED);
    await expect(guard.verify(bearer(old))).resolves.toBeTruthy();
    const replacement = makeKey("EdDSA", ED.kid);
    issuer.state.keys = [replacement.jwk];
    clock.advance(30_000);
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", "x") })), "unknown_kid");
    await expectReason(guard, bearer(old), "unknown_kid");
    await expectReason(guard, bearer(mint(ED)), "bad_signature");
    await expect(guard.verify(bearer(mint(replacement)))).resolves.toBeTruthy();
  });

  it("the JWKS is refreshed in the background once older than jwksMaxAge", async () => {
    const issuer = fakeIssuer([ED.jwk]);
    const { guard, clock } = remoteGuard(issuer, { jwksMaxAge: 300 });
    const t = mint(ED);
    await guard.verify(bearer(t));
    clock.advance(299_000);
    await guard.verify(bearer(t));
    expect(issuer.fetch).toHaveBeenCalledTimes(1);
    issuer.state.keys = [EC.jwk]; // ED retired
    clock.advance(1_000);
    await guard.verify(bearer(t)); // served from cache; refresh starts in the background
    expect(issuer.fetch).toHaveBeenCalledTimes(2);
    await vi.waitFor(() => expect(guard.stats().kids).toEqual([EC.kid]));
    await expectReason(guard, bearer(t), "unknown_kid");
  });

  it("jwks_unavailable: no key set ever loaded is 503 (fails closed), retried at most once a second", async () => {
    const errors: Error[] = [];
    const issuer = fakeIssuer([ED.jwk]);
    issuer.state.status = 503;
    const { guard, clock } = remoteGuard(issuer, { onJwksError: (e: Error) => errors.push(e) });
    const err = await expectReason(guard, bearer(mint(ED)), "jwks_unavailable", 503);
    expect(err.code).toBe("store_unavailable");
    expect(err.wwwAuthenticate).toBeUndefined();
    await expectReason(guard, bearer(mint(ED)), "jwks_unavailable", 503);
    expect(issuer.fetch).toHaveBeenCalledTimes(1);
    expect(errors[0]?.message).toMatch(/HTTP 503/);
    await expect(guard.ready()).rejects.toThrow(/HTTP 503/);
    expect(issuer.fetch).toHaveBeenCalledTimes(2);
    issuer.state.status = 200;
    clock.advance(1_000);
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
  });

  it("a failed refetch keeps the previous keys (HTTP error, bad JSON, wrong shape, no usable key, network error)", async () => {
    const errors: Error[] = [];
    const issuer = fakeIssuer([ED.jwk]);
    const { guard, clock } = remoteGuard(issuer, {
      onJwksError: (e: Error) => errors.push(e),
      cacheSize: 0,
    });
    await guard.ready();
    const failures: (() => void)[] = [
      () => {
        issuer.state.status = 500;
      },
      () => {
        issuer.state.body = "{not json";
      },
      () => {
        issuer.state.body = JSON.stringify([ED.jwk]);
      },
      () => {
        issuer.state.body = JSON.stringify({ keys: [{ kty: "oct", k: "c2VjcmV0", kid: "h" }] });
      },
      () => {
        issuer.fetch.mockRejectedValueOnce(new TypeError("fetch failed"));
      },
    ];
    for (const breakIt of failures) {
      issuer.state.status = 200;
      issuer.state.body = undefined;
      breakIt();
      clock.advance(30_000);
      await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", "new") })), "unknown_kid");
      await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    }
    expect(errors).toHaveLength(failures.length);
  });

  it("an oversized JWKS response is refused (declared or streamed), previous keys kept", async () => {
    const issuer = fakeIssuer([ED.jwk]);
    const { guard, clock } = remoteGuard(issuer);
    await guard.ready();
    const huge = JSON.stringify({ keys: [ED.jwk], pad: "x".repeat(70 * 1024) });
    issuer.fetch.mockImplementationOnce(async () => new Response(huge, { status: 200 }));
    clock.advance(30_000);
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", "n1") })), "unknown_kid");
    // No content-length: a stream that never ends is cut at the limit.
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(0x20));
      },
    });
    issuer.fetch.mockImplementationOnce(async () => new Response(endless, { status: 200 }));
    clock.advance(30_000);
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", "n2") })), "unknown_kid");
    expect(sent).toBeLessThanOrEqual(96 * 1024);
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
  });

  it("a JWKS fetch that hangs is aborted after jwksTimeout", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const errors: Error[] = [];
    const fetch = vi.fn<FetchLike>(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          init.signal.addEventListener("abort", () => reject(init.signal.reason));
        }),
    );
    const { guard } = testGuard({
      jwks: undefined,
      fetch,
      jwksTimeout: 2000,
      onJwksError: (e: Error) => errors.push(e),
    });
    const pending = expectReason(guard, bearer(mint(ED)), "jwks_unavailable", 503);
    await vi.advanceTimersByTimeAsync(2000);
    await pending;
    expect(errors[0]?.message).toMatch(/timed out/);
  });

  it("verifySync: an unknown kid starts a background refresh and is refused meanwhile", async () => {
    const next = makeKey("EdDSA", "ed-2");
    const issuer = fakeIssuer([ED.jwk]);
    const { guard, clock } = remoteGuard(issuer);
    expect(() => guard.verifySync(bearer(mint(ED)))).toThrowError(
      expect.objectContaining({ reason: "jwks_unavailable" }),
    );
    await guard.ready();
    expect(guard.verifySync(bearer(mint(ED))).sub).toBe("user-42");
    issuer.state.keys = [ED.jwk, next.jwk];
    clock.advance(30_000);
    const t = mint(next);
    expect(() => guard.verifySync(bearer(t))).toThrowError(
      expect.objectContaining({ reason: "unknown_kid" }),
    );
    await vi.waitFor(() => expect(guard.stats().kids).toContain("ed-2"));
    expect(guard.verifySync(bearer(t)).sub).toBe("user-42");
  });
});

/** A P-256 JWK whose point is not on the curve (invalid-curve attacks, RFC 8725 §3.4). */
function offCurve(kid: string): Record<string, unknown> {
  const jwk = makeKey("ES256", kid).jwk;
  const y = Buffer.from(String(jwk.y), "base64url");
  y[31] = (y[31] ?? 0) ^ 1;
  return { ...jwk, y: y.toString("base64url") };
}

describe("guard: which JWKS keys are used", () => {
  it("skips unusable keys without failing the others; their kids are unknown", async () => {
    const rsaSmall = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const p521 = generateKeyPairSync("ec", { namedCurve: "P-521" });
    const ed448 = generateKeyPairSync("ed448");
    const rs = makeKey("RS256", "rs-noalg");
    const edPriv = generateKeyPairSync("ed25519");
    const keys: {
      kid: string;
      jwk: Record<string, unknown>;
      signer?: Parameters<typeof mint>[0];
    }[] = [
      { kid: "hmac", jwk: { kty: "oct", k: "c2VjcmV0", kid: "hmac", alg: "HS256" } },
      { kid: "enc", jwk: { ...makeKey("EdDSA", "enc").jwk, use: "enc" } },
      { kid: "ops", jwk: { ...makeKey("EdDSA", "ops").jwk, key_ops: ["encrypt"] } },
      {
        kid: "private",
        jwk: { ...edPriv.privateKey.export({ format: "jwk" }), kid: "private", alg: "EdDSA" },
      },
      {
        kid: "rsa1024",
        jwk: { ...rsaSmall.publicKey.export({ format: "jwk" }), kid: "rsa1024", alg: "RS256" },
      },
      {
        kid: "p521",
        jwk: { ...p521.publicKey.export({ format: "jwk" }), kid: "p521", alg: "ES512" },
      },
      {
        kid: "ed448",
        jwk: { ...ed448.publicKey.export({ format: "jwk" }), kid: "ed448", alg: "EdDSA" },
      },
      { kid: "rs-noalg", jwk: { ...rs.jwk, alg: undefined } },
      { kid: "mislabeled", jwk: { ...makeKey("EdDSA", "mislabeled").jwk, alg: "ES256" } },
      { kid: "bad-x", jwk: { kty: "OKP", crv: "Ed25519", x: "AAAA", kid: "bad-x" } },
      { kid: "off-curve", jwk: offCurve("off-curve") },
      { kid: "no-kid", jwk: { ...makeKey("EdDSA", "x").jwk, kid: undefined } },
      { kid: "notallowed", jwk: makeKey("ES384", "notallowed").jwk },
    ];
    const jwks = { keys: [...keys.map((k) => k.jwk), ED.jwk, "junk", null, 42] };
    const { guard } = testGuard({ jwks });
    expect(guard.stats().kids).toEqual([ED.kid]);
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    const forged = mint({ ...makeKey("EdDSA", "enc") });
    await expectReason(guard, bearer(forged), "unknown_kid");
    await expectReason(guard, bearer(mint({ ...makeKey("EdDSA", "mislabeled") })), "unknown_kid");
  });

  it("RSA keys under 2048 bits (or over 8192) are never used, even with RS256 allowed", async () => {
    const allowed = new Set(["RS256", "PS256"] as const);
    for (const bits of [1024, 1536, 2040]) {
      const small = generateKeyPairSync("rsa", { modulusLength: bits });
      const jwk = { ...small.publicKey.export({ format: "jwk" }), kid: `rsa${bits}`, alg: "RS256" };
      expect(importJwk(jwk, allowed)).toBe("RSA key of unacceptable size");
    }
    const ok = makeKey("RS256", "rsa2048");
    expect(importJwk(ok.jwk, allowed)).toMatchObject({ alg: "RS256", signatureBytes: 256 });
    // Only a small key published: the guard refuses to start with it.
    const tiny = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const tinyJwk = { ...tiny.publicKey.export({ format: "jwk" }), kid: "tiny", alg: "RS256" };
    expect(() => testGuard({ algorithms: ["RS256"], jwks: { keys: [tinyJwk] } })).toThrow(
      /no usable key/,
    );
    // Beside a good key: the small key's tokens name an unknown kid.
    const { guard } = testGuard({ algorithms: ["RS256"], jwks: { keys: [tinyJwk, ok.jwk] } });
    const forged = mint({ kid: "tiny", alg: "RS256", ...tiny, jwk: tinyJwk });
    await expectReason(guard, bearer(forged), "unknown_kid");
    await expect(guard.verify(bearer(mint(ok)))).resolves.toBeTruthy();
  });

  it("a kid published twice is ambiguous: both keys are skipped", async () => {
    const twin = makeKey("ES256", ED.kid);
    const { guard } = testGuard({ jwks: { keys: [ED.jwk, twin.jwk, EC.jwk] } });
    expect(guard.stats().kids).toEqual([EC.kid]);
    await expectReason(guard, bearer(mint(ED)), "unknown_kid");
    await expectReason(guard, bearer(mint(twin)), "unknown_kid");
  });

  it("infers EdDSA/ES256 from the curve when a JWK has no alg", async () => {
    const { guard } = testGuard({
      jwks: {
        keys: [
          { ...ED.jwk, alg: undefined },
          { ...EC.jwk, alg: undefined, use: undefined },
        ],
      },
    });
    await expect(guard.verify(bearer(mint(ED)))).resolves.toBeTruthy();
    await expect(guard.verify(bearer(mint(EC)))).resolves.toBeTruthy();
  });

  it("audience and issuer come from the options, never from the JWKS", async () => {
    const { guard } = testGuard({ jwks: { keys: [{ ...ED.jwk, iss: "x", aud: "y" }] } });
    const p = await guard.verify(bearer(mint(ED)));
    expect(p.claims.aud).toBe(AUDIENCE);
    expect(NOW_MS).toBeGreaterThan(0);
  });
});
