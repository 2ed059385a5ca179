/**
 * The guard's one warning: a guard with no revocation source at all (no revocation feed,
 * no `denylist`) accepts a revoked JWT until it expires, which nobody expects from
 * `createGuard({ issuer, audience })`. It says so once per process (not once per guard:
 * an app may build many), as a Node warning with a stable code, so it can be found in
 * logs and filtered (`process.on("warning")`, `--disable-warning=TESSERA_GUARD_NO_REVOCATION`
 * on Node 21+). `revocations: false` is the explicit opt-out that silences it.
 */

/** The warning's `code`. */
export const NO_REVOCATION_CODE = "TESSERA_GUARD_NO_REVOCATION";

/** The warning's text: what is wrong and the two ways out. */
export const NO_REVOCATION_WARNING =
  "createGuard: this guard has no revocation source, so it accepts a revoked token until " +
  "the token expires. Give it introspection: { clientId, clientSecret } (a client registered " +
  "at the issuer with --introspect) to follow the issuer's revocation feed, and " +
  "`await guard.ready()` before listening; or a denylist. Pass revocations: false to accept " +
  "this and silence the warning.";

/**
 * Process-wide, not module-wide: `tessera/guard` and `@tessera/guard` loaded side by side
 * (or two copies of either) still warn once.
 */
const WARNED = Symbol.for("tessera.guard.noRevocationWarning");

export function warnNoRevocationSource(): void {
  const global = globalThis as { [WARNED]?: boolean };
  if (global[WARNED] === true) return;
  global[WARNED] = true;
  process.emitWarning(NO_REVOCATION_WARNING, { code: NO_REVOCATION_CODE });
}
