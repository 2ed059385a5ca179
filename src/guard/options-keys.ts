/**
 * What a token is checked against: the issuer (also the challenge realm), the audiences,
 * the allowed algorithms and where the keys come from.
 */
import {
  type Algorithm,
  DEFAULT_ALGORITHMS,
  isSupportedAlgorithm,
  SUPPORTED_ALGORITHMS,
} from "./algorithms.js";
import { importJwks, isJwksShape } from "./jwks.js";
import { fail, httpUrl, type RawOptions } from "./option-checks.js";
import type { ResolvedOptions } from "./options.js";
import { httpsUnlessLoopback, issuerUrl } from "./urls.js";

export type ResolvedKeys = Pick<ResolvedOptions, "issuer" | "audiences" | "algorithms" | "jwks">;

function resolveAudiences(aud: unknown): ReadonlySet<string> {
  const list = typeof aud === "string" ? [aud] : aud;
  if (!Array.isArray(list) || list.length === 0) {
    fail("audience", "must be a non-empty string or a non-empty array of them");
  }
  for (const a of list) {
    if (typeof a !== "string" || a.length === 0) fail("audience", "must contain non-empty strings");
  }
  return new Set(list as string[]);
}

function resolveAlgorithms(value: unknown): Set<Algorithm> {
  if (value === undefined) return new Set(DEFAULT_ALGORITHMS);
  if (!Array.isArray(value) || value.length === 0) fail("algorithms", "must be a non-empty array");
  const algorithms = new Set<Algorithm>();
  for (const alg of value) {
    if (!isSupportedAlgorithm(alg)) {
      const name = typeof alg === "string" ? alg : typeof alg;
      const hint =
        typeof alg === "string" && (/^none$/i.test(alg) || /^HS/i.test(alg))
          ? " (unsigned and HMAC tokens are never accepted)"
          : "";
      fail(
        "algorithms",
        `contains ${JSON.stringify(name)}${hint}; supported: ${SUPPORTED_ALGORITHMS.join(", ")}`,
      );
    }
    algorithms.add(alg);
  }
  return algorithms;
}

function resolveJwks(
  j: unknown,
  issuer: string,
  algorithms: ReadonlySet<Algorithm>,
): ResolvedOptions["jwks"] {
  let jwks: ResolvedOptions["jwks"];
  if (j === undefined) {
    jwks = { url: `${issuer.replace(/\/+$/, "")}/.well-known/jwks.json` };
  } else if (typeof j === "string" || j instanceof URL) {
    jwks = { url: httpUrl("jwks", j.toString()).href };
  } else if (isJwksShape(j)) {
    const { keys, skipped } = importJwks(j, algorithms);
    if (keys.size === 0) {
      const why = skipped.map((s) => `#${s.index}: ${s.reason}`).join("; ");
      fail("jwks", `has no usable key for the allowed algorithms (${why || "empty"})`);
    }
    jwks = { inline: { keys: [...j.keys] } };
  } else {
    fail("jwks", "must be a URL (string or URL) or an object with a keys array");
  }
  if ("url" in jwks) {
    httpsUnlessLoopback(new URL(jwks.url), (why) => fail("jwks", why));
  }
  return jwks;
}

export function resolveKeys(o: RawOptions): ResolvedKeys {
  const issuer = issuerUrl(o.issuer, (why) => fail("issuer", why));
  const audiences = resolveAudiences(o.audience);
  const algorithms = resolveAlgorithms(o.algorithms);
  return { issuer, audiences, algorithms, jwks: resolveJwks(o.jwks, issuer, algorithms) };
}
