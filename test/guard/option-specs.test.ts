/**
 * The option declarations (src/guard/option-specs.ts) are what the constructors check:
 * every declared name is accepted, every number's default and bounds are the ones applied.
 */
import { describe, expect, it } from "vitest";
import { resolveAdapterOptions } from "../../src/guard/adapters/shared.js";
import {
  ADAPTER_OPTIONS,
  GUARD_OPTIONS,
  INTROSPECTION_OPTIONS,
  type NumberOptionSpec,
  type OptionTable,
  REVOCATIONS_OPTIONS,
  SESSION_VERIFIER_OPTIONS,
} from "../../src/guard/option-specs.js";
import { type GuardOptions, resolveOptions } from "../../src/guard/options.js";
import { createSessionVerifier } from "../../src/guard/session.js";
import { AUDIENCE, ED } from "./support.js";

/** Loopback, so the derived introspection and feed URLs may be http. */
const ISSUER = "http://127.0.0.1:4000";
const credentials = { clientId: "rs", clientSecret: "secret" };
const base = { issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ED.jwk] } };

function numbers(table: OptionTable): [string, NumberOptionSpec][] {
  return Object.entries(table).filter((e): e is [string, NumberOptionSpec] => {
    return e[1].kind === "number";
  });
}

/** A value just outside each bound, and one of the wrong kind. */
function outside(spec: NumberOptionSpec): unknown[] {
  const below = spec.min - (spec.integer || spec.min === 0 ? 1 : spec.min / 2);
  return [below, spec.max + 1, spec.integer ? spec.min + 0.5 : Number.NaN];
}

function guardWith(options: Record<string, unknown>) {
  return () => resolveOptions({ ...base, ...options } as GuardOptions);
}

describe("guard option declarations drive createGuard's checks", () => {
  it("every declared option name is known (an undeclared one is refused)", () => {
    for (const name of Object.keys(GUARD_OPTIONS)) {
      expect(guardWith({ [name]: (base as Record<string, unknown>)[name] })).not.toThrow(
        /is not a guard option/,
      );
    }
    expect(guardWith({ notDeclared: 1 })).toThrow('option "notDeclared" is not a guard option');
    for (const name of Object.keys(INTROSPECTION_OPTIONS)) {
      expect(guardWith({ introspection: { ...credentials, [name]: undefined } })).not.toThrow(
        /is not an introspection option/,
      );
    }
    for (const name of Object.keys(REVOCATIONS_OPTIONS)) {
      expect(
        guardWith({ introspection: credentials, revocations: { [name]: undefined } }),
      ).not.toThrow(/is not a revocations option/);
    }
  });

  it("the declared defaults are the ones applied", () => {
    const r = resolveOptions({ ...base, introspection: credentials } as GuardOptions);
    expect(r.toleranceMs).toBe(GUARD_OPTIONS.clockTolerance.default * 1000);
    expect(r.maxTokenLength).toBe(GUARD_OPTIONS.maxTokenLength.default);
    expect(r.refreshIntervalMs).toBe(GUARD_OPTIONS.jwksRefreshInterval.default * 1000);
    expect(r.maxAgeMs).toBe(GUARD_OPTIONS.jwksMaxAge.default * 1000);
    expect(r.timeoutMs).toBe(GUARD_OPTIONS.jwksTimeout.default);
    expect(r.cacheSize).toBe(GUARD_OPTIONS.cacheSize.default);
    expect(r.introspection?.timeoutMs).toBe(INTROSPECTION_OPTIONS.timeout.default);
    expect(r.introspectionCacheTtlMs).toBe(INTROSPECTION_OPTIONS.cacheTtl.default * 1000);
    expect(r.introspectionInactiveCacheTtlMs).toBe(
      INTROSPECTION_OPTIONS.inactiveCacheTtl.default * 1000,
    );
    expect(r.revocations?.maxStalenessMs).toBe(REVOCATIONS_OPTIONS.maxStaleness.default * 1000);
    expect(r.revocations?.heartbeatTimeoutMs).toBe(
      REVOCATIONS_OPTIONS.heartbeatTimeout.default * 1000,
    );
    expect(r.revocations?.readyTimeoutMs).toBe(REVOCATIONS_OPTIONS.readyTimeout.default * 1000);
  });

  it("every number's declared bounds are the ones checked, inclusive", () => {
    for (const [name, spec] of numbers(GUARD_OPTIONS)) {
      for (const v of [spec.min, spec.max]) expect(guardWith({ [name]: v })).not.toThrow();
      for (const v of outside(spec)) expect(guardWith({ [name]: v }), name).toThrow(`"${name}"`);
    }
    for (const [name, spec] of numbers(INTROSPECTION_OPTIONS)) {
      // a cache TTL above 0 needs the feed, which the credentials turn on
      const at = (v: unknown) => guardWith({ introspection: { ...credentials, [name]: v } });
      for (const v of [spec.min, spec.max]) expect(at(v)).not.toThrow();
      for (const v of outside(spec)) expect(at(v), name).toThrow(`"introspection.${name}"`);
    }
    for (const [name, spec] of numbers(REVOCATIONS_OPTIONS)) {
      const at = (v: unknown) =>
        guardWith({ introspection: credentials, revocations: { [name]: v } });
      for (const v of [spec.min, spec.max]) expect(at(v)).not.toThrow();
      for (const v of outside(spec)) expect(at(v), name).toThrow(`"revocations.${name}"`);
    }
  });
});

describe("session verifier and adapter option declarations", () => {
  it("createSessionVerifier knows exactly the declared names; timeout's bounds are declared", () => {
    const at = (options: Record<string, unknown>) => () =>
      createSessionVerifier({ issuer: ISSUER, ...options });
    for (const name of Object.keys(SESSION_VERIFIER_OPTIONS)) {
      if (name !== "issuer") expect(at({ [name]: undefined })).not.toThrow();
    }
    expect(at({ notDeclared: 1 })).toThrow("is not a session verifier option");
    const spec = SESSION_VERIFIER_OPTIONS.timeout;
    for (const v of [spec.min, spec.max]) expect(at({ timeout: v })).not.toThrow();
    for (const v of outside(spec)) {
      expect(at({ timeout: v })).toThrow(`must be an integer between ${spec.min} and ${spec.max}`);
    }
  });

  it("the adapters know exactly the declared names", () => {
    for (const name of Object.keys(ADAPTER_OPTIONS)) {
      expect(() => resolveAdapterOptions("guard", { [name]: undefined })).not.toThrow();
    }
    expect(() => resolveAdapterOptions("guard", { notDeclared: 1 } as never)).toThrow(
      'guard: "notDeclared" is not an option (scopes, optional)',
    );
  });
});
