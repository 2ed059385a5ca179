/**
 * The first stages of a JWT's verification, before any key is touched:
 *   - shape: exactly three canonical base64url segments (one regex, a few bit checks),
 *     with a precise reason for the usual wrong things (JWE, JSON serialization, h.p.);
 *   - header policy: strict JSON object; `alg` in OUR allow-list; no crit/jwk/jku/x5u/
 *     x5c/...; typ at+jwt; a kid — a plain map key, nothing else.
 * The result is one ParsedJws record that the later stages (key, signature, claims) read.
 */
import type { Algorithm } from "./algorithms.js";
import { B64TOKEN } from "./credential.js";
import { COMPACT_JWS, decodeJsonObject, isCanonicalBase64url } from "./encoding.js";
import { type GuardReason, refusal } from "./errors.js";

export interface Header {
  readonly alg: Algorithm;
  readonly kid: string;
}

/** What the header is checked against. */
export interface HeaderPolicy {
  readonly realm: string;
  readonly algorithms: ReadonlySet<Algorithm>;
}

/** A compact JWS whose shape and header have been checked. */
export class ParsedJws {
  constructor(
    readonly token: string,
    /** Index of the first dot (end of the header segment). */
    readonly d1: number,
    /** Index of the second dot (end of the signing input). */
    readonly d2: number,
    readonly header: Header,
    /** The header segment when it was not the memo's last one ("" otherwise). */
    readonly headerSegment: string,
    /** The header came from the memo (already seen under a valid signature). */
    readonly known: boolean,
  ) {}
}

/** Tessera's headers are ~80 characters; anything this long is not one of ours. */
const MAX_HEADER_CHARS = 1024;
/** Distinct validated headers remembered (one per key and typ spelling, in practice). */
const HEADER_CACHE_SIZE = 64;
/** Header parameters refused outright (RFC 8725 §3.10, CVE-2018-0114; zip/enc: JWE only). */
const FORBIDDEN_HEADERS = ["jwk", "jku", "x5u", "x5c", "b64", "zip", "enc", "cty"] as const;

/**
 * Validated headers, by segment. Every token of one key shares its header: the last one is
 * compared first, before any hashing. Only headers seen under a valid signature by a key of
 * ours are remembered (`remember`), so junk cannot fill it.
 */
export class HeaderMemo {
  private readonly map = new Map<string, Header>();
  private lastSegment = ""; // with lastHeader: the header of the last new token verified
  private lastHeader: Header | undefined;

  /** After a valid signature: remember the header of `jws`. */
  remember(jws: ParsedJws): void {
    if (!jws.known) {
      if (this.map.size >= HEADER_CACHE_SIZE) this.map.clear();
      this.map.set(jws.headerSegment, jws.header);
    }
    if (jws.headerSegment !== "") {
      this.lastSegment = jws.headerSegment;
      this.lastHeader = jws.header;
    }
  }

  clear(): void {
    this.map.clear();
  }

  /** Distinct headers remembered (tests). */
  get size(): number {
    return this.map.size;
  }

  /** Shape and header stages: `token` as a ParsedJws, or the GuardError refusing it. */
  parse(token: string, fromHeader: boolean, policy: HeaderPolicy, scratch: Buffer): ParsedJws {
    const { realm } = policy;
    const last = this.lastSegment;
    const lastLength = last.length;
    const lastHeader = this.lastHeader;
    // The last header again (checked when it was remembered: base64url, no dot): only the
    // rest of the token is left for the shape's regular expression.
    const lastAgain =
      lastHeader !== undefined &&
      token.charCodeAt(lastLength) === 0x2e /* . */ &&
      token.startsWith(last) &&
      testFrom(PAYLOAD_AND_SIGNATURE, token, lastLength + 1);
    if (!lastAgain && !COMPACT_JWS.test(token)) {
      throw refusal(realm, classifyBadToken(token, fromHeader));
    }
    const d1 = lastAgain ? lastLength : token.indexOf(".");
    const d2 = token.indexOf(".", d1 + 1);
    if (
      !isCanonicalBase64url(token, d1 + 1, d2) ||
      !isCanonicalBase64url(token, d2 + 1, token.length)
    ) {
      throw refusal(realm, "malformed", "The token is not canonical base64url.");
    }
    let header: Header | undefined;
    let headerSegment = "";
    if (lastAgain) {
      header = lastHeader;
    } else {
      headerSegment = token.slice(0, d1);
      header = this.map.get(headerSegment);
    }
    const known = header !== undefined;
    if (header === undefined) header = parseHeader(headerSegment, policy, scratch);
    return new ParsedJws(token, d1, d2, header, headerSegment, known);
  }
}

/** What follows a valid header segment and its dot in a compact JWS (sticky: from lastIndex). */
const PAYLOAD_AND_SIGNATURE = /[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/y;

/** `re` (sticky) matches `s` from `index` to its end. */
function testFrom(re: RegExp, s: string, index: number): boolean {
  re.lastIndex = index;
  return re.test(s);
}

/** Why a token that is not three base64url segments is refused. */
export function classifyBadToken(token: string, fromHeader: boolean): GuardReason {
  if (fromHeader && !B64TOKEN.test(token)) return "malformed_authorization";
  if (token.charCodeAt(0) === 0x7b /* { */) return "json_serialization";
  const segments = token.split(".");
  if (segments.length === 5) return "encrypted_token";
  if (
    segments.length === 3 &&
    segments[2] === "" &&
    segments[0] !== "" &&
    segments[1] !== "" &&
    COMPACT_JWS.test(`${token}A`)
  ) {
    return "missing_signature";
  }
  return "malformed";
}

/** The header policy over one header segment (`scratch`: a buffer for the decoded JSON). */
export function parseHeader(segment: string, policy: HeaderPolicy, scratch: Buffer): Header {
  const { realm } = policy;
  if (segment.length > MAX_HEADER_CHARS) {
    throw refusal(realm, "malformed", "The token header is too large.");
  }
  if (!isCanonicalBase64url(segment, 0, segment.length)) {
    throw refusal(realm, "malformed", "The token is not canonical base64url.");
  }
  const h = decodeJsonObject(segment, scratch);
  if (typeof h === "string") throw refusal(realm, h);
  const alg = h.alg;
  if (typeof alg !== "string") throw refusal(realm, "malformed", "The token header has no alg.");
  // Our allow-list decides; `none` in any spelling and every HS* are simply not in it.
  if (!policy.algorithms.has(alg as Algorithm)) throw refusal(realm, "alg_not_allowed");
  if (Object.hasOwn(h, "crit")) throw refusal(realm, "crit_unsupported");
  for (const name of FORBIDDEN_HEADERS) {
    if (Object.hasOwn(h, name)) throw refusal(realm, "forbidden_header");
  }
  const typ = h.typ;
  if (typeof typ !== "string") throw refusal(realm, "wrong_typ");
  const t = typ.toLowerCase();
  if (t !== "at+jwt" && t !== "application/at+jwt") throw refusal(realm, "wrong_typ");
  const kid = h.kid;
  if (kid === undefined) throw refusal(realm, "missing_kid");
  if (typeof kid !== "string" || kid.length === 0) {
    throw refusal(realm, "malformed", "The token header's kid is not a non-empty string.");
  }
  return Object.freeze({ alg: alg as Algorithm, kid });
}
