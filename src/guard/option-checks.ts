/**
 * The small checks every group of createGuard's options uses. A bad option is a
 * programming or deployment error: a TypeError naming the option, at creation, never at
 * verify time.
 */
import { type NumberOptionSpec, numberProblem } from "./option-specs.js";
import { httpUrl as checkHttpUrl, httpsUnlessLoopback } from "./urls.js";

/** The options as given, by name (checked to be an object by `optionsObject`). */
export type RawOptions = Record<string, unknown>;

export function fail(option: string, why: string): never {
  throw new TypeError(`createGuard: option "${option}" ${why}`);
}

/** An absolute http(s) URL without credentials or fragment. */
export function httpUrl(option: string, value: string): URL {
  return checkHttpUrl(value, (why) => fail(option, why));
}

/** `value` is an object of known option names only (`what`: the message's noun). */
export function optionsObject(
  value: unknown,
  known: ReadonlySet<string>,
  label: (key: string) => string,
  what: string,
): RawOptions {
  const o = value as RawOptions;
  for (const key of Object.keys(o)) {
    if (!known.has(key)) fail(label(key), `is not ${what}`);
  }
  return o;
}

/** A number option, checked against its declaration; its default when absent. */
export function numberOption(
  o: RawOptions,
  name: string,
  spec: NumberOptionSpec,
  label = name,
): number {
  const v = o[name];
  if (v === undefined) return spec.default;
  const problem = numberProblem(spec, v);
  if (problem === "type") fail(label, `must be a finite ${spec.integer ? "integer" : "number"}`);
  if (problem === "range") fail(label, `must be between ${spec.min} and ${spec.max}`);
  return v as number;
}

/** An optional callback option. */
export function functionOption<F>(o: RawOptions, name: string, label = name): F | undefined {
  const fn = o[name];
  if (fn !== undefined && typeof fn !== "function") fail(label, "must be a function");
  return fn as F | undefined;
}

/**
 * An endpoint of the issuer that carries a secret: the option `label` (a URL string or
 * URL), else `${issuer}${path}` (a bad issuer is then the issuer's fault); https unless a
 * loopback host.
 */
export function endpointOption(
  value: unknown,
  label: string,
  issuer: string,
  path: string,
  carries: string,
): URL {
  let url: URL;
  if (value === undefined) url = httpUrl("issuer", `${issuer.replace(/\/+$/, "")}${path}`);
  else if (typeof value === "string" || value instanceof URL) {
    url = httpUrl(label, value.toString());
  } else {
    fail(label, "must be a URL (string or URL)");
  }
  httpsUnlessLoopback(url, (why) => fail(label, why), carries);
  return url;
}
