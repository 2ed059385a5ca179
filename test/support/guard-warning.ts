/**
 * Test workers build hundreds of guards with no revocation source on purpose (inline keys,
 * frozen clocks); createGuard's once-per-process warning about that would print in every
 * worker. Mark it as given: test/guard/warnings.test.ts checks the warning itself, in
 * child processes that start without this mark.
 */
(globalThis as Record<symbol, unknown>)[Symbol.for("tessera.guard.noRevocationWarning")] = true;
