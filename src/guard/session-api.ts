/**
 * What every entry point of the guard (`tessera/guard` and each adapter) exports about
 * session cookies and verifiers in general, listed once (src/guard/README.md: "Every entry
 * point also exports …").
 */
export { anyOf } from "./any-of.js";
export {
  type AnyPrincipal,
  createSessionVerifier,
  type SessionPrincipal,
  type SessionVerifier,
  type SessionVerifierOptions,
  sessionSetCookies,
  type Verifier,
} from "./session.js";
