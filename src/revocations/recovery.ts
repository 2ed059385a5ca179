import type { Clock } from "../clock.js";
import type { KeptRevocationStore, RevocationEvent } from "../store/types.js";
import type { JwtDenylist } from "../tokens/denylist.js";

/** Kept revocations read (and written back) at a time. */
export const RESTORE_PAGE_SIZE = 1000;

/**
 * Refills an ephemeral store that came back empty (a Redis restarted without its data,
 * FLUSHALL) from the durable copy every revocation is kept in first
 * (src/revocations/log.ts): each JWT revocation goes back on the denylist, and every kept
 * revocation (JWT and subject) is appended to the log again, so verifiers that resume
 * after the loss get them in their snapshot. Opaque tokens, sessions and codes are not
 * refilled: they are simply gone (fail-closed).
 */
export class RevocationRecovery {
  constructor(
    private readonly kept: KeptRevocationStore,
    private readonly denylist: JwtDenylist,
    private readonly clock: Clock,
    private readonly pageSize: number = RESTORE_PAGE_SIZE,
  ) {}

  /** Returns how many revocations were put back. */
  async restore(append: (events: RevocationEvent[]) => Promise<void>): Promise<number> {
    let after = "";
    let n = 0;
    for (;;) {
      const page = await this.kept.page(this.clock.now(), after, this.pageSize);
      if (page.length === 0) return n;
      await Promise.all(
        page.flatMap(({ event }) => (event.type === "jwt" ? [this.denylist.restore(event)] : [])),
      );
      await append(page.map(({ event }) => event));
      n += page.length;
      after = page.at(-1)?.key ?? after;
      if (page.length < this.pageSize) return n;
    }
  }
}
