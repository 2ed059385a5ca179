/**
 * Test kit for the guard: keys, a token minter that can produce any bytes (including the
 * malformed ones a real library refuses to emit), and an assertion that a verification
 * fails for exactly the expected reason without leaking any part of the token.
 */
import {
  createHmac,
  generateKeyPairSync,
  type KeyObject,
  constants as nodeCrypto,
  sign as nodeSign,
} from "node:crypto";
import { expect } from "vitest";
import { ManualClock } from "../../src/clock.js";
import {
  createGuard,
  type Guard,
  GuardError,
  type GuardOptions,
  type GuardReason,
  type Principal,
  type VerifyInput,
} from "../../src/guard/index.js";

export const ISSUER = "https://auth.example.test";
export const AUDIENCE = "orders-api";
/** 2026-01-01T00:00:00Z, the frozen "now" of every test. */
export const NOW_MS = Date.UTC(2026, 0, 1);
export const NOW = NOW_MS / 1000;

export type TestAlg = "EdDSA" | "ES256" | "ES384" | "RS256" | "PS256";

export interface TestKey {
  kid: string;
  alg: TestAlg;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public JWK as a JWKS would publish it. */
  jwk: Record<string, unknown>;
}

export function makeKey(alg: TestAlg, kid: string, extra: Record<string, unknown> = {}): TestKey {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  if (alg === "EdDSA") pair = generateKeyPairSync("ed25519");
  else if (alg === "ES256") pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
  else if (alg === "ES384") pair = generateKeyPairSync("ec", { namedCurve: "P-384" });
  else pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...pair.publicKey.export({ format: "jwk" }), kid, alg, use: "sig", ...extra };
  return { kid, alg, ...pair, jwk };
}

// Generated once per test file (key generation is the slow part).
export const ED = makeKey("EdDSA", "ed-1");
export const EC = makeKey("ES256", "ec-1");

export function b64u(input: string | Buffer): string {
  return Buffer.from(input).toString("base64url");
}

export function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: ISSUER,
    sub: "user-42",
    aud: AUDIENCE,
    exp: NOW + 900,
    iat: NOW,
    jti: "jti-0001",
    client_id: "cli-1",
    scope: "orders:read orders:write",
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

export function header(key: TestKey, overrides: Record<string, unknown> = {}) {
  const base: Record<string, unknown> = { alg: key.alg, typ: "at+jwt", kid: key.kid };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base;
}

/** Signature over `signingInput` with `key`'s own algorithm (JWS raw encoding). */
export function signBytes(key: TestKey, signingInput: string): Buffer {
  const data = Buffer.from(signingInput);
  switch (key.alg) {
    case "EdDSA":
      return nodeSign(null, data, key.privateKey);
    case "ES256":
      return nodeSign("sha256", data, { key: key.privateKey, dsaEncoding: "ieee-p1363" });
    case "ES384":
      return nodeSign("sha384", data, { key: key.privateKey, dsaEncoding: "ieee-p1363" });
    case "RS256":
      return nodeSign("sha256", data, key.privateKey);
    case "PS256":
      return nodeSign("sha256", data, {
        key: key.privateKey,
        padding: nodeCrypto.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
  }
}

/**
 * A compact JWS signed by `key`. Header and payload may be objects (JSON-encoded),
 * strings (used as the JSON text verbatim) or Buffers (raw bytes).
 */
export function mint(
  key: TestKey,
  opts: {
    header?: Record<string, unknown> | string | Buffer;
    payload?: Record<string, unknown> | string | Buffer;
  } = {},
): string {
  const enc = (v: Record<string, unknown> | string | Buffer) =>
    b64u(Buffer.isBuffer(v) || typeof v === "string" ? v : JSON.stringify(v));
  const h = enc(opts.header ?? header(key));
  const p = enc(opts.payload ?? claims());
  const signingInput = `${h}.${p}`;
  return `${signingInput}.${b64u(signBytes(key, signingInput))}`;
}

/** An HS256 token keyed with `secret` (the algorithm-confusion attack). */
export function mintHmac(secret: string | Buffer, headerObj: Record<string, unknown>): string {
  const signingInput = `${b64u(JSON.stringify(headerObj))}.${b64u(JSON.stringify(claims()))}`;
  return `${signingInput}.${createHmac("sha256", secret).update(signingInput).digest("base64url")}`;
}

export function testGuard(overrides: Partial<GuardOptions> = {}): {
  guard: Guard;
  clock: ManualClock;
} {
  const clock = new ManualClock(NOW_MS);
  const guard = createGuard({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [ED.jwk, EC.jwk] },
    clock,
    ...overrides,
  });
  return { guard, clock };
}

export function bearer(token: string): VerifyInput {
  return { authorization: `Bearer ${token}` };
}

/** The parts of a token that must never show up in an error. */
function secretsOf(token: string | undefined): string[] {
  if (token === undefined) return [];
  const parts = [token, ...token.split(".")].filter((p) => p.length >= 8);
  return parts;
}

/**
 * Asserts that verifying `input` fails with a GuardError of `reason` (and `status`, if
 * given), and that neither message, description nor challenge contains the token.
 */
export async function expectReason(
  guard: Guard,
  input: VerifyInput,
  reason: GuardReason,
  status?: number,
): Promise<GuardError> {
  let caught: unknown;
  try {
    await guard.verify(input);
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a GuardError with reason ${reason}`).toBeInstanceOf(GuardError);
  const err = caught as GuardError;
  expect(err.reason).toBe(reason);
  if (status !== undefined) expect(err.status).toBe(status);
  const token =
    typeof input.authorization === "string"
      ? input.authorization.replace(/^bearer /i, "")
      : input.cookie?.split("=").slice(1).join("=");
  const visible = [err.message, err.description, err.wwwAuthenticate ?? "", String(err.stack)];
  for (const secret of secretsOf(token)) {
    for (const text of visible) expect(text.includes(secret)).toBe(false);
  }
  return err;
}

export async function expectAccepted(guard: Guard, token: string): Promise<Principal> {
  return guard.verify(bearer(token));
}
