/**
 * A token's `scope` as the Principal's frozen list of scope-tokens, memoised by the scope
 * string: an issuer grants few distinct scope strings, and every token of a client
 * carries the same one, so splitting and freezing it again on every fresh token is wasted
 * work. The memo is exact (a frozen list equal to the split) and bounded both in entries
 * and in the length of the strings it keeps; anything longer is split every time.
 */

const EMPTY_SCOPES: readonly string[] = Object.freeze([]);
/** Distinct scope strings remembered; the memo starts over when full. */
export const SCOPE_MEMO_SIZE = 64;
/** Longer scope strings are not remembered (bounds the memo's memory to ~64 KiB). */
export const SCOPE_MEMO_MAX_CHARS = 1024;

const memo = new Map<string, readonly string[]>();

/** RFC 6749 §3.3: space-delimited; tolerate stray spaces rather than yield "" scopes. */
function splitScope(scope: string): readonly string[] {
  const parts = scope.split(" ");
  return Object.freeze(parts.includes("") ? parts.filter((s) => s !== "") : parts);
}

/** The frozen scope-tokens of `scope` (undefined or "": none). */
export function scopeList(scope: string | undefined): readonly string[] {
  if (scope === undefined || scope === "") return EMPTY_SCOPES;
  const known = memo.get(scope);
  if (known !== undefined) return known;
  const list = splitScope(scope);
  if (scope.length <= SCOPE_MEMO_MAX_CHARS) {
    if (memo.size >= SCOPE_MEMO_SIZE) memo.clear();
    memo.set(scope, list);
  }
  return list;
}

/** Scope strings remembered now (tests). */
export function scopeMemoSize(): number {
  return memo.size;
}
