import { describe, expect, it } from "vitest";
import {
  clearedSessionCookie,
  cookieValues,
  sessionCookie,
  sessionTokenFrom,
} from "../../src/sessions/cookie.js";

describe("session cookie", () => {
  it("is __Host- prefixed, Path=/, Secure, HttpOnly, SameSite=Strict, no Domain", () => {
    expect(sessionCookie("tok")).toBe(
      "__Host-session=tok; Path=/; Secure; HttpOnly; SameSite=Strict",
    );
    expect(sessionCookie("tok", 60)).toBe(
      "__Host-session=tok; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=60",
    );
    expect(clearedSessionCookie()).toBe(
      "__Host-session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    );
  });

  it("parses every occurrence and flags duplicates as ambiguous", () => {
    expect(cookieValues("a=1; __Host-session=x; b=2", "__Host-session")).toEqual(["x"]);
    expect(sessionTokenFrom("__Host-session=x;__Host-session=y")).toEqual({ kind: "ambiguous" });
    expect(sessionTokenFrom(["__Host-session=x", "__Host-session=y"])).toEqual({
      kind: "ambiguous",
    });
    expect(sessionTokenFrom("__host-session=x")).toEqual({ kind: "none" });
    expect(sessionTokenFrom(undefined)).toEqual({ kind: "none" });
    expect(sessionTokenFrom("__Host-session=x")).toEqual({ kind: "one", token: "x" });
  });
});
