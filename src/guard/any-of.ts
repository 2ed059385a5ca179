/**
 * `anyOf(bearer, session)`: one verifier for APIs serving both token holders and browsers.
 */
import { findCookie, isCookieName } from "../shared/cookies.js";
import type { VerifyInput } from "./credential.js";
import type { AnyPrincipal, Verifier } from "./session.js";

/**
 * One verifier for APIs that accept both tokens and sessions. It picks by the credential
 * the request carries, never tries one after the other:
 * - an `Authorization` header: the bearer verifier (a browser sends its cookies along with
 *   every request, so a session cookie next to a header is ignored, not "two credentials");
 * - else a session cookie (`session.cookieName`): the session verifier;
 * - else the bearer verifier (which may accept its own cookie, or answers 401 with the
 *   `Bearer` challenge).
 */
export function anyOf<A extends AnyPrincipal, B extends AnyPrincipal>(
  bearer: Verifier<A>,
  session: Verifier<B> & { readonly cookieName: string },
): Verifier<A | B> & { readonly issuer: string | undefined } {
  for (const [name, v] of [
    ["bearer", bearer],
    ["session", session],
  ] as const) {
    if (typeof v !== "object" || v === null || typeof v.verify !== "function") {
      throw new TypeError(`anyOf: ${name} must be an object with a verify(input) method`);
    }
  }
  if (!isCookieName(session.cookieName)) {
    throw new TypeError("anyOf: session must name its cookie (cookieName)");
  }
  const name = session.cookieName;
  return {
    issuer: bearer.issuer ?? session.issuer,
    verify(input: VerifyInput): Promise<A | B> {
      if (typeof input === "object" && input !== null) {
        const auth = input.authorization;
        const cookie = input.cookie;
        if (
          (auth === undefined || auth === "") &&
          typeof cookie === "string" &&
          cookie !== "" &&
          findCookie(cookie, name) !== undefined
        ) {
          return session.verify(input);
        }
      }
      return bearer.verify(input);
    },
  };
}
