import { describe, expect, it } from "vitest";
import { TesseraError } from "../../src/errors.js";
import { parserError, rawAnswer } from "../../src/server/framework-errors.js";
import { SECURITY_HEADERS } from "../../src/server/security.js";
import { parseRaw } from "../support/raw-http.js";

describe("answers written below Fastify", () => {
  it("maps Node's parser errors to stable codes", () => {
    expect(parserError("HPE_HEADER_OVERFLOW")).toMatchObject({
      code: "header_too_large",
      status: 431,
    });
    // Node's headersTimeout / requestTimeout: waiting seconds for it has no place in a test.
    expect(parserError("ERR_HTTP_REQUEST_TIMEOUT")).toMatchObject({
      code: "request_timeout",
      status: 408,
    });
    for (const code of ["HPE_INVALID_CHUNK_SIZE", "HPE_INVALID_METHOD", undefined]) {
      expect(parserError(code)).toMatchObject({ code: "invalid_request", status: 400 });
    }
  });

  it("a raw answer: status line, security headers (HSTS for an https issuer), JSON, close", () => {
    const e = new TesseraError("header_too_large");
    for (const hsts of [false, true]) {
      const answer = parseRaw(rawAnswer(e, hsts));
      expect(answer.text).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      expect(answer.headers).toEqual({
        ...SECURITY_HEADERS,
        ...(hsts ? { "strict-transport-security": "max-age=31536000; includeSubDomains" } : {}),
        "content-type": "application/json; charset=utf-8",
        "content-length": String(Buffer.byteLength(answer.body)),
        connection: "close",
      });
      expect(JSON.parse(answer.body)).toEqual({
        error: "header_too_large",
        message: "The request headers are too large.",
      });
    }
  });
});
