/**
 * Strict decoding of the parts of a compact JWS.
 *
 * `Buffer.from(s, "base64url")` is lenient: it skips characters outside the alphabet,
 * accepts both alphabets and padding, and ignores non-zero trailing bits. The guard
 * first checks the whole token against the base64url alphabet (one regular expression),
 * then each segment's length and trailing bits here, so that exactly one string encodes
 * a given byte sequence. JSON must be valid UTF-8 (no BOM, no replacement characters),
 * an object, without duplicate member names (RFC 7515 §5.2, RFC 8725 §3.1 parser
 * differentials) and without `__proto__` members anywhere.
 */
import { isUtf8 } from "node:buffer";

/** Values of the base64url alphabet, -1 outside it. */
const B64URL = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  B64URL["ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charCodeAt(i)] = i;
}

/**
 * True if `s[start, end)` is canonical unpadded base64url: a length that is not 1 mod 4,
 * and zero bits where the last character carries fewer than 6. The alphabet itself has
 * been checked by the caller.
 */
export function isCanonicalBase64url(s: string, start: number, end: number): boolean {
  const len = end - start;
  const rem = len & 3;
  if (len === 0 || rem === 1) return false;
  if (rem === 0) return true;
  const last = B64URL[s.charCodeAt(end - 1)] ?? -1;
  if (last < 0) return false;
  // rem 2: 12 bits carry 8 (4 spare); rem 3: 18 bits carry 16 (2 spare).
  return (last & (rem === 2 ? 0x0f : 0x03)) === 0;
}

/** Whole-token check: three non-empty base64url segments, nothing else. */
export const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export type JsonFailure = "malformed" | "duplicate_key";

/**
 * Decodes a base64url segment into a JSON object, strictly, and deep-freezes it. Returns
 * the object, or why it is refused. The segment's alphabet and canonical form have been
 * checked by the caller. `scratch`, if given, is a reusable buffer of at least 3/4 of the
 * segment's length, to decode without allocating.
 */
export function decodeJsonObject(
  segment: string,
  scratch?: Buffer,
): Record<string, unknown> | JsonFailure {
  let bytes: Buffer;
  if (scratch !== undefined && scratch.length * 4 >= segment.length * 3) {
    bytes = scratch.subarray(0, scratch.write(segment, 0, "base64url"));
  } else {
    bytes = Buffer.from(segment, "base64url");
  }
  return parseJsonObject(bytes);
}

/**
 * The same for raw bytes (an introspection response): valid UTF-8 without BOM, a JSON
 * object, no repeated member names, no `__proto__`, deep-frozen.
 */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> | JsonFailure {
  if (!isUtf8(bytes)) return "malformed";
  // Buffer#toString keeps a BOM as U+FEFF, which JSON.parse refuses: what we want.
  const text = bytes.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "malformed";
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "malformed";
  if (text.indexOf("\\") === -1) {
    // Fast path, no escapes: in valid JSON every ':' outside strings separates one member,
    // and strings hold exactly the characters of the text. So the colons of the text equal
    // (members parsed) + (colons inside parsed strings) unless JSON.parse dropped a
    // repeated member — whose own colon (and those of its strings) then go uncounted.
    const counted = freezeAndCount(value);
    if (counted < 0) return "malformed";
    if (counted !== countColons(text)) return "duplicate_key";
  } else {
    const failure = scanMemberNames(text);
    if (failure !== undefined) return failure;
    if (freezeAndCount(value) < 0) return "malformed";
  }
  return value as Record<string, unknown>;
}

function countColons(s: string): number {
  let n = 0;
  for (let i = s.indexOf(":"); i !== -1; i = s.indexOf(":", i + 1)) n++;
  return n;
}

/**
 * Freezes a parsed JSON object in depth and returns its member count plus the colons in
 * its strings (keys included), or -1 if some object has a `__proto__` member (JSON.parse
 * makes it an own property; a later Object.assign or for-in copy would turn it into a
 * prototype). Iterative: nesting depth is bounded by the token's length only.
 */
function freezeAndCount(root: object): number {
  const pending: object[] = [root];
  let n = 0;
  for (let v = pending.pop(); v !== undefined; v = pending.pop()) {
    Object.freeze(v);
    if (Array.isArray(v)) {
      for (const item of v) {
        if (typeof item === "string") n += colonsIn(item);
        else if (typeof item === "object" && item !== null) pending.push(item);
      }
      continue;
    }
    if (Object.hasOwn(v, "__proto__")) return -1;
    const o = v as Record<string, unknown>;
    for (const key in o) {
      n += 1 + colonsIn(key);
      const item = o[key];
      if (typeof item === "string") n += colonsIn(item);
      else if (typeof item === "object" && item !== null) pending.push(item);
    }
  }
  return n;
}

function colonsIn(s: string): number {
  return s.indexOf(":") === -1 ? 0 : countColons(s);
}

/**
 * Walks JSON text already accepted by JSON.parse (the slow path, for text with escapes)
 * and reports a member name repeated in one object (compared after unescaping, so `"sub"` and `"\u0073ub"` collide) or a
 * `__proto__` member at any depth. Linear in the text; the per-object search is linear
 * in the object's size, which the caller bounds (the header's length is capped, the
 * payload is only scanned once its signature is verified).
 */
export function scanMemberNames(text: string): JsonFailure | undefined {
  const stack: string[][] = [];
  let names: string[] | undefined;
  const n = text.length;
  const plain = text.indexOf("\\") === -1;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j: number;
      let escaped = false;
      if (plain) {
        j = text.indexOf('"', i + 1);
      } else {
        j = i + 1;
        for (;;) {
          const d = text.charCodeAt(j);
          if (d === 0x22) break;
          if (d === 0x5c /* \ */) {
            escaped = true;
            j += 2;
          } else {
            j++;
          }
        }
      }
      // A string followed by ':' is a member name.
      let k = j + 1;
      let e = text.charCodeAt(k);
      while (e === 0x20 || e === 0x09 || e === 0x0a || e === 0x0d) e = text.charCodeAt(++k);
      if (e === 0x3a /* : */ && names !== undefined) {
        const name = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        if (name === "__proto__") return "malformed";
        if (names.includes(name)) return "duplicate_key";
        names.push(name);
        i = k + 1;
      } else {
        i = j + 1;
      }
      continue;
    }
    if (c === 0x7b /* { */) {
      names = [];
      stack.push(names);
    } else if (c === 0x7d /* } */) {
      stack.pop();
      names = stack[stack.length - 1];
    }
    i++;
  }
  return undefined;
}
