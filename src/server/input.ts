import type { IncomingHttpHeaders } from "node:http";
import { TesseraError } from "../errors.js";

/**
 * Reads request bodies and parameters without trusting their shape: every field is
 * checked for type and size here, so the domain only ever sees plain strings.
 */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    throw new TesseraError("invalid_request", "The request body must be an object.");
  }
  return body as Record<string, unknown>;
}

export function requiredString(
  obj: Record<string, unknown>,
  name: string,
  maxLength = 4096,
): string {
  const v = obj[name];
  if (v === undefined || v === null || v === "") {
    throw new TesseraError("invalid_request", `Missing field: ${name}.`);
  }
  if (typeof v !== "string") {
    throw new TesseraError("invalid_request", `Field ${name} must be a string.`);
  }
  if (v.length > maxLength) {
    throw new TesseraError("invalid_request", `Field ${name} is too long.`);
  }
  return v;
}

/** true/false in JSON, or "true"/"on"/"1" and "false"/"off"/"0" from a form. */
export function optionalBoolean(obj: Record<string, unknown>, name: string): boolean {
  const v = obj[name];
  if (v === undefined || v === null || v === "") return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    if (v === "true" || v === "on" || v === "1") return true;
    if (v === "false" || v === "off" || v === "0") return false;
  }
  throw new TesseraError("invalid_request", `Field ${name} must be true or false.`);
}

/** An `application/x-www-form-urlencoded` body. */
export function isFormBody(contentType: string | undefined): boolean {
  return contentType?.startsWith("application/x-www-form-urlencoded") === true;
}

/**
 * A browser's own form submission (not fetch/XHR, not curl): a form body, and HTML
 * accepted. Such a post is answered with a redirect to a page rather than JSON or 204,
 * which a browser would show as raw JSON or leave the old page standing.
 */
export function isHtmlFormPost(headers: IncomingHttpHeaders): boolean {
  return isFormBody(headers["content-type"]) && headers.accept?.includes("text/html") === true;
}
