/**
 * One rule for reading a cookie (src/shared/cookies.ts), and the server and the guard
 * agreeing on it: for the same Cookie header, Tessera's session lookup and the guard (its
 * session verifier, its token cookie) find the same value, or both find it ambiguous.
 * Before, the guard did not trim around "=" while the server did, so `N=a; N =b` was one
 * cookie to the guard and two (ambiguous) to the server.
 */
import { describe, expect, it } from "vitest";
import { extractToken } from "../../src/guard/extract.js";
import { createSessionVerifier, isGuardError } from "../../src/guard/index.js";
import { SESSION_COOKIE, sessionTokenFrom } from "../../src/sessions/cookie.js";
import {
  cookieValues,
  DUPLICATE_COOKIE,
  findCookie,
  isCookieName,
} from "../../src/shared/cookies.js";
import { shapedToken } from "../support/tokens.js";

const N = SESSION_COOKIE;
const A = shapedToken("a");
const B = shapedToken("b");

type Seen = "none" | "ambiguous" | { value: string };

/** Headers and what both sides must find in them. */
const CASES: [string, Seen][] = [
  [`${N}=${A}`, { value: A }],
  [`x=1; ${N}=${A}; y=2`, { value: A }],
  [`x=1;${N}=${A};y=2`, { value: A }],
  [` ${N}=${A} `, { value: A }],
  [`\t${N}=${A}`, { value: A }],
  [`${N} =${A}`, { value: A }],
  [`${N}= ${A}`, { value: A }],
  [`${N}=${A} ; x=1`, { value: A }],
  [`${N}=${A};;`, { value: A }],
  [`x=a=b; ${N}=${A}`, { value: A }],
  [`x; ${N}=${A}`, { value: A }],
  [`${N.toLowerCase()}=${B}; ${N}=${A}`, { value: A }],
  [`${N}x=${B}; x${N}=${B}; ${N}=${A}`, { value: A }],
  [`${N}=${A}; ${N}=${B}`, "ambiguous"],
  [`${N}=${A}; ${N}=${A}`, "ambiguous"],
  [`${N}=${A};${N} =${B}`, "ambiguous"],
  [`${N}=${A}; \t${N}= ${B}`, "ambiguous"],
  [`${N}=${A}; ${N}=`, "ambiguous"],
  [`x=1; y=2`, "none"],
  [`${N}`, "none"],
  [`${N}${A}`, "none"],
  [`;;;`, "none"],
];

describe("findCookie and cookieValues: the rule", () => {
  it("trims SP and HTAB around the name and the value, matches names exactly", () => {
    for (const [header, seen] of CASES) {
      const found = findCookie(header, N);
      if (seen === "none") expect(found, header).toBeUndefined();
      else if (seen === "ambiguous") expect(found, header).toBe(DUPLICATE_COOKIE);
      else expect(found, header).toBe(seen.value);
    }
  });

  it("cookieValues lists every occurrence, raw (no unquoting or decoding)", () => {
    expect(cookieValues(`a=1; b="x y"; a = %41 ; c=`, "a")).toEqual(["1", "%41"]);
    expect(cookieValues(`b="x y"`, "b")).toEqual(['"x y"']);
    expect(cookieValues(`c=`, "c")).toEqual([""]);
    expect(cookieValues("", "a")).toEqual([]);
  });

  it("isCookieName: an RFC 7230 token", () => {
    expect(isCookieName(N)).toBe(true);
    for (const bad of ["", "a b", "a=b", "a;b", "é", 1, undefined]) {
      expect(isCookieName(bad), String(bad)).toBe(false);
    }
  });
});

describe("the server and the guard read the same cookie", () => {
  function server(header: string): Seen {
    const t = sessionTokenFrom(header);
    return t.kind === "one" ? { value: t.token } : t.kind;
  }

  async function sessionVerifier(header: string): Promise<Seen> {
    let forwarded: string | undefined;
    const verifier = createSessionVerifier({
      issuer: "https://auth.example.test",
      fetch: async (_url, init) => {
        forwarded = init.headers.cookie;
        return Response.json({
          user: { id: "u1", username: "ada", roles: [] },
          session: {
            id: "s1",
            createdAt: "2026-01-01T00:00:00Z",
            expiresAt: "2026-01-02T00:00:00Z",
            idleExpiresAt: "2026-01-01T01:00:00Z",
          },
        });
      },
    });
    try {
      await verifier.verify({ cookie: header });
    } catch (err) {
      if (!isGuardError(err)) throw err;
      if (err.reason === "multiple_credentials") return "ambiguous";
      if (err.reason === "missing_token") return "none";
      throw err;
    }
    expect(forwarded?.startsWith(`${N}=`)).toBe(true);
    return { value: (forwarded as string).slice(N.length + 1) };
  }

  function tokenCookie(header: string): Seen {
    const policy = {
      realm: "https://auth.example.test",
      cookieName: N,
      allowedOrigins: new Set<string>(),
      maxTokenLength: 8192,
    };
    try {
      return { value: extractToken({ cookie: header }, policy) };
    } catch (err) {
      if (!isGuardError(err)) throw err;
      if (err.reason === "multiple_credentials") return "ambiguous";
      if (err.reason === "missing_token") return "none";
      throw err;
    }
  }

  it("Tessera's session lookup, the session verifier and the guard's token cookie agree", async () => {
    for (const [header, seen] of CASES) {
      // An empty value is no session anywhere (the server's shape check, the guard's
      // missing_token); every other case is read alike.
      if (seen === "ambiguous" || seen === "none" || seen.value !== "") {
        expect(server(header), header).toEqual(seen);
        expect(await sessionVerifier(header), header).toEqual(seen);
        expect(tokenCookie(header), header).toEqual(seen);
      }
    }
  });
});
