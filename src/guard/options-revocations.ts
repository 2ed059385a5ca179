/**
 * `revocations`: the revocation feed (docs/revocation-feed.md). On by default when
 * `introspection` credentials are given (the feed authenticates with them), and whether
 * the caller said "no feed" on purpose (which silences the no-revocation warning).
 */
import type { IntrospectionConfig } from "./introspection.js";
import {
  endpointOption,
  fail,
  functionOption,
  numberOption,
  optionsObject,
  type RawOptions,
} from "./option-checks.js";
import { MAX_BACKOFF_MS, optionNames, REVOCATIONS_OPTIONS } from "./option-specs.js";
import type { RevocationsConfig, RevocationsOptions } from "./options.js";

const KNOWN = optionNames(REVOCATIONS_OPTIONS);

/** The `revocations` object as given ({} for `true` or absent). */
function revocationsObject(value: unknown): RawOptions {
  if (value === undefined || value === true) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail("revocations", "must be a boolean or an object { enabled?, url?, maxStaleness?, ... }");
  }
  return optionsObject(value, KNOWN, (key) => `revocations.${key}`, "a revocations option");
}

export function resolveRevocations(
  value: unknown,
  issuer: string,
  introspection: IntrospectionConfig | undefined,
): RevocationsConfig | undefined {
  if (value === false) return undefined;
  if (value === undefined && introspection === undefined) return undefined;
  const r = revocationsObject(value);
  const enabled = r.enabled;
  if (enabled !== undefined && typeof enabled !== "boolean") {
    fail("revocations.enabled", "must be a boolean");
  }
  if (enabled === false) return undefined;
  if (introspection === undefined) {
    fail(
      "revocations",
      "needs introspection client credentials (option introspection): the feed authenticates with them",
    );
  }
  const url = endpointOption(
    r.url,
    "revocations.url",
    issuer,
    "/events/revocations",
    "the client secret",
  );
  const onStale = r.onStale ?? "fail-closed";
  if (onStale !== "fail-closed" && onStale !== "accept") {
    fail("revocations.onStale", 'must be "fail-closed" or "accept"');
  }
  const onError = functionOption<(error: Error) => void>(r, "onError", "revocations.onError");
  const seconds = (name: "maxStaleness" | "heartbeatTimeout" | "readyTimeout") =>
    numberOption(r, name, REVOCATIONS_OPTIONS[name], `revocations.${name}`) * 1000;
  return {
    url: url.href,
    authorization: introspection.authorization,
    maxStalenessMs: seconds("maxStaleness"),
    failClosed: onStale === "fail-closed",
    heartbeatTimeoutMs: seconds("heartbeatTimeout"),
    readyTimeoutMs: seconds("readyTimeout"),
    maxBackoffMs: MAX_BACKOFF_MS,
    onError,
  };
}

/** `revocations: false` or `{ enabled: false }`: no feed, and the caller said so. */
export function optedOut(value: unknown): boolean {
  return (
    value === false ||
    (typeof value === "object" && value !== null && (value as RevocationsOptions).enabled === false)
  );
}
