/**
 * `introspection`: the guard's client at the issuer (opaque tokens by RFC 7662, and the
 * credentials the revocation feed authenticates with), and the introspection caches.
 */
import { basicAuthorization, type IntrospectionConfig } from "./introspection.js";
import {
  endpointOption,
  fail,
  numberOption,
  optionsObject,
  type RawOptions,
} from "./option-checks.js";
import { INTROSPECTION_OPTIONS, optionNames } from "./option-specs.js";
import type { ResolvedOptions } from "./options.js";

const KNOWN = optionNames(INTROSPECTION_OPTIONS);

/** RFC 6749 §2.3.1 / A.1-A.2: visible ASCII and space; no control characters. */
const PRINTABLE = /^[ -~]+$/;

export function resolveIntrospection(
  value: unknown,
  issuer: string,
): IntrospectionConfig | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("introspection", "must be an object { clientId, clientSecret, url?, timeout? }");
  }
  const i = optionsObject(value, KNOWN, (key) => `introspection.${key}`, "an introspection option");
  const { clientId, clientSecret } = i;
  if (typeof clientId !== "string" || !PRINTABLE.test(clientId)) {
    fail("introspection.clientId", "must be a non-empty string of printable ASCII");
  }
  if (typeof clientSecret !== "string" || !PRINTABLE.test(clientSecret)) {
    fail("introspection.clientSecret", "must be a non-empty string of printable ASCII");
  }
  const url = endpointOption(
    i.url,
    "introspection.url",
    issuer,
    "/oauth/introspect",
    "the client secret and tokens",
  );
  return {
    url: url.href,
    authorization: basicAuthorization(clientId, clientSecret),
    timeoutMs: numberOption(i, "timeout", INTROSPECTION_OPTIONS.timeout, "introspection.timeout"),
  };
}

/**
 * The introspection caches' lifetimes (ms; 0: off). An active answer may be cached only
 * with the revocation feed, which evicts it: without, it would outlive a revocation.
 */
export function resolveIntrospectionCaches(
  o: RawOptions,
  introspection: IntrospectionConfig | undefined,
  withFeed: boolean,
): Pick<ResolvedOptions, "introspectionCacheTtlMs" | "introspectionInactiveCacheTtlMs"> {
  if (introspection === undefined) {
    return { introspectionCacheTtlMs: 0, introspectionInactiveCacheTtlMs: 0 };
  }
  const i = o.introspection as RawOptions;
  const seconds = (name: "cacheTtl" | "inactiveCacheTtl") =>
    numberOption(i, name, INTROSPECTION_OPTIONS[name], `introspection.${name}`) * 1000;
  const introspectionInactiveCacheTtlMs = seconds("inactiveCacheTtl");
  const introspectionCacheTtlMs = seconds("cacheTtl");
  if (introspectionCacheTtlMs > 0 && !withFeed) {
    fail(
      "introspection.cacheTtl",
      "needs the revocation feed (option revocations): without it a cached answer would outlive a revocation",
    );
  }
  return { introspectionCacheTtlMs, introspectionInactiveCacheTtlMs };
}
