/**
 * Issue 14, fuzzing the guard: `verify` with arbitrary and mutated inputs (bearer JWTs,
 * opaque tokens whose introspection answers anything, cookies, URLs) must resolve to a
 * Principal or reject with a GuardError, never throw anything else, never hang.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { checksumOf } from "../../src/crypto/token-shape.js";
import { createGuard, type Guard, isGuardError, type VerifyInput } from "../../src/guard/index.js";
import type { FetchLike } from "../../src/guard/jwks.js";
import {
  AUDIENCE,
  claims,
  EC,
  ED,
  header,
  ISSUER,
  mint,
  NOW,
  NOW_MS,
  testGuard,
} from "../guard/support.js";
import { fuzzTimeout, runProperty } from "./support/budget.js";

const RUNS = 1000;
const HANG_MS = 5_000;

/** Resolves, or rejects with a GuardError; anything else (or no answer) fails. */
async function verifyTyped(guard: Guard, input: VerifyInput): Promise<"accepted" | "refused"> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`hang: verify did not answer in ${HANG_MS} ms`)),
      HANG_MS,
    );
  });
  try {
    await Promise.race([guard.verify(input), hang]);
    return "accepted";
  } catch (err) {
    if (err instanceof Error && err.message.startsWith("hang:")) throw err;
    expect(isGuardError(err), `not a GuardError: ${String(err)}`).toBe(true);
    return "refused";
  } finally {
    clearTimeout(timer);
  }
}

const b64u = (s: string | Buffer) => Buffer.from(s).toString("base64url");

const anyText = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: "binary", maxLength: 60 }),
  fc.integer({ min: 1, max: 100_000 }).map((n) => "A".repeat(n)),
  fc.constantFrom(
    "",
    "Bearer",
    "Bearer ",
    "bearer  x",
    "Basic x",
    "DPoP x",
    "Bearer a.b.c",
    "Bearer ..",
    "Bearer tsr_",
  ),
);

const jsonish: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, [], {}, "", 0, -1, 1e308, Number.MAX_SAFE_INTEGER + 2, "__proto__"),
);

/** A valid token of the guard's issuer, then one part of it changed. */
const mutatedJwt = fc.oneof(
  // A claim replaced by anything.
  fc
    .record({
      claim: fc.constantFrom(
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "client_id",
        "scope",
        "cnf",
        "x",
      ),
      value: jsonish,
      key: fc.constantFrom(ED, EC),
    })
    .map(({ claim, value, key }) => mint(key, { payload: claims({ [claim]: value }) })),
  // A header field replaced by anything.
  fc
    .record({
      field: fc.constantFrom("alg", "typ", "kid", "crit", "jku", "jwk", "x5u", "b64", "cty", "zip"),
      value: jsonish,
      key: fc.constantFrom(ED, EC),
    })
    .map(({ field, value, key }) => mint(key, { header: header(key, { [field]: value }) })),
  // Header or payload as arbitrary bytes (signed: the signature is valid).
  fc
    .record({ part: fc.constantFrom("header", "payload"), bytes: fc.uint8Array({ maxLength: 80 }) })
    .map(({ part, bytes }) => mint(ED, { [part]: Buffer.from(bytes) })),
  // Any JSON as header or payload text.
  fc
    .record({ part: fc.constantFrom("header", "payload"), json: jsonish })
    .map(({ part, json }) => mint(EC, { [part]: JSON.stringify(json) ?? "" })),
  // The compact form itself cut, extended or flipped.
  fc
    .record({ at: fc.nat(), how: fc.constantFrom("flip", "cut", "dot", "pad", "space", "dup") })
    .map(({ at, how }) => {
      const t = mint(ED);
      const i = at % t.length;
      switch (how) {
        case "flip":
          return t.slice(0, i) + (t[i] === "A" ? "B" : "A") + t.slice(i + 1);
        case "cut":
          return t.slice(0, i);
        case "dot":
          return `${t.slice(0, i)}.${t.slice(i)}`;
        case "pad":
          return `${t}==`;
        case "space":
          return `${t.slice(0, i)} ${t.slice(i)}`;
        default:
          return `${t}.${t}`;
      }
    }),
  // Segments of arbitrary base64url.
  fc
    .array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.map((p) => b64u(Buffer.from(p))).join(".")),
);

const opaqueLike = fc.oneof(
  // Well-formed (right checksum): these reach introspection.
  fc.stringMatching(/^tsr_[A-Za-z0-9_-]{51}$/).map((head) => `${head}${checksumOf(head)}`),
  fc.stringMatching(/^tsr_[A-Za-z0-9_-]{57}$/),
  fc.stringMatching(/^[A-Za-z0-9_~+/.-]{1,80}$/),
);

const input: fc.Arbitrary<VerifyInput> = fc.record(
  {
    authorization: fc.oneof(
      mutatedJwt.map((t) => `Bearer ${t}`),
      opaqueLike.map((t) => `Bearer ${t}`),
      anyText,
    ),
    cookie: fc.oneof(
      anyText,
      mutatedJwt.map((t) => `__Host-session=${t}`),
    ),
    url: fc.oneof(
      anyText,
      fc.constantFrom("/", "/x?access_token=abc", "https://api.example/x", "//x", "http://["),
    ),
    method: fc.constantFrom("GET", "POST", "DELETE", "", "get"),
    origin: anyText,
    secFetchSite: fc.constantFrom("same-origin", "cross-site", "none", ""),
  },
  { requiredKeys: [] },
);

/** Introspection answers of any kind (status, body) for the opaque path. */
function answering(status: number, body: string): FetchLike {
  return async () =>
    new Response(body, {
      status,
      headers: { "content-type": "application/json" },
    });
}

/** Tessera's answer for a live access token, then one member changed or removed. */
const GOOD_ANSWER: Record<string, unknown> = {
  active: true,
  iss: ISSUER,
  aud: AUDIENCE,
  exp: NOW + 600,
  iat: NOW,
  sub: "user-42",
  scope: "orders:read",
  client_id: "cli-1",
  token_type: "Bearer",
  jti: "jti-0002",
};

const introspectionBody = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  jsonish.map((v) => JSON.stringify(v) ?? ""),
  fc.constant(JSON.stringify(GOOD_ANSWER)),
  fc
    .record({
      member: fc.constantFrom(...Object.keys(GOOD_ANSWER), "cnf", "nbf", "username", "__proto__"),
      value: fc.option(jsonish, { nil: undefined }),
    })
    .map(({ member, value }) => {
      const o: Record<string, unknown> = { ...GOOD_ANSWER };
      if (value === undefined) delete o[member];
      else o[member] = value;
      return JSON.stringify(o);
    }),
);

describe("guard verify fuzz", () => {
  it("a valid token is accepted (the generators start from real tokens)", async () => {
    const { guard } = testGuard({ revocations: false });
    await expect(guard.verify({ authorization: `Bearer ${mint(ED)}` })).resolves.toMatchObject({
      sub: "user-42",
    });
  });

  it(
    "bearer JWTs, cookies and URLs: a Principal or a GuardError",
    async () => {
      const { guard } = testGuard({ revocations: false });
      const outcomes = { accepted: 0, refused: 0 };
      await runProperty(
        "guard verify (JWT)",
        input,
        async (i) => {
          outcomes[await verifyTyped(guard, i)]++;
        },
        RUNS,
      );
      // Some mutations leave a valid token (an unknown claim, a harmless header member).
      expect(outcomes.accepted).toBeGreaterThan(0);
    },
    fuzzTimeout(60_000),
  );

  it(
    "opaque tokens, introspection answering anything: a Principal or a GuardError",
    async () => {
      const outcomes = { accepted: 0, refused: 0 };
      await runProperty(
        "guard verify (introspection answers)",
        fc.record({
          token: opaqueLike,
          status: fc.constantFrom(200, 200, 200, 200, 400, 401, 429, 500, 503),
          body: introspectionBody,
        }),
        async ({ token, status, body }) => {
          const guard = createGuard({
            issuer: ISSUER,
            audience: AUDIENCE,
            jwks: { keys: [ED.jwk, EC.jwk] },
            introspection: {
              clientId: "api",
              clientSecret: "s3cret-s3cret",
              url: `${ISSUER}/oauth/introspect`,
            },
            revocations: false,
            fetch: answering(status, body),
            clock: new ManualClock(NOW_MS),
          });
          try {
            outcomes[await verifyTyped(guard, { authorization: `Bearer ${token}` })]++;
          } finally {
            guard.close();
          }
        },
        RUNS / 2,
      );
      // Some answers were good enough to accept: the generator reaches past the refusals.
      expect(outcomes.accepted).toBeGreaterThan(0);
    },
    fuzzTimeout(60_000),
  );
});
