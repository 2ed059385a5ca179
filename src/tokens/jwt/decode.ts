import { TesseraError } from "../../errors.js";
import { SIGNING_ALGS } from "../../keys/keys.js";

export interface DecodedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  warnings: string[];
}

/** What Tessera signs with (and what its verifiers allow by default). */
const SAFE_ALGS: readonly string[] = SIGNING_ALGS;
const REQUIRED = ["iss", "sub", "aud", "exp", "iat", "jti"];
const LONG_LIFETIME_S = 60 * 60;

function segment(text: string, what: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(text))
    throw new TesseraError("invalid_request", `The ${what} is not base64url.`);
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw new TesseraError("invalid_request", `The ${what} is not JSON.`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TesseraError("invalid_request", `The ${what} is not a JSON object.`);
  }
  return v as Record<string, unknown>;
}

/**
 * Decodes a compact JWS without verifying it, and lists what a verifier should refuse or
 * a reviewer should question. For debugging only: nothing here says the token is genuine.
 */
export function decodeJwt(token: string, nowSeconds = Math.floor(Date.now() / 1000)): DecodedJwt {
  const parts = token.trim().split(".");
  if (parts.length === 5)
    throw new TesseraError("invalid_request", "This is a JWE (encrypted); it cannot be decoded.");
  if (parts.length !== 3)
    throw new TesseraError("invalid_request", "A JWT has three dot-separated parts.");
  const header = segment(parts[0] as string, "header");
  const claims = segment(parts[1] as string, "payload");
  const warnings: string[] = [];
  const alg = header.alg;
  if (typeof alg !== "string" || alg.toLowerCase() === "none")
    warnings.push('alg is "none" or missing: unsigned');
  else if (!SAFE_ALGS.includes(alg))
    warnings.push(`alg ${alg} is not allowed by Tessera verifiers (${SAFE_ALGS.join(", ")})`);
  if (parts[2] === "") warnings.push("the signature is empty");
  for (const h of ["jku", "x5u", "jwk", "x5c"]) {
    if (h in header)
      warnings.push(
        `header "${h}" present: verifiers must never fetch or trust keys named by the token`,
      );
  }
  if ("crit" in header)
    warnings.push('header "crit" present: verifiers reject unknown critical extensions');
  if (typeof header.typ !== "string" || !/^(application\/)?at\+jwt$/i.test(header.typ)) {
    warnings.push(`typ is ${JSON.stringify(header.typ)}, not "at+jwt" (RFC 9068 access tokens)`);
  }
  if (header.kid === undefined)
    warnings.push("no kid: the verifier cannot tell which key signed it");
  for (const c of REQUIRED) if (!(c in claims)) warnings.push(`missing claim "${c}"`);
  const { exp, iat, nbf } = claims;
  if (typeof exp === "number") {
    if (exp <= nowSeconds) warnings.push(`expired ${nowSeconds - exp} s ago`);
    if (typeof iat === "number" && exp - iat > LONG_LIFETIME_S) {
      warnings.push(`long lifetime: ${exp - iat} s (access tokens should live minutes)`);
    }
  } else if (exp !== undefined) warnings.push("exp is not a number");
  if (typeof nbf === "number" && nbf > nowSeconds)
    warnings.push("not valid yet (nbf in the future)");
  if (typeof iat === "number" && iat > nowSeconds + 60) warnings.push("issued in the future (iat)");
  return { header, claims, warnings };
}
