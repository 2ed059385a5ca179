/**
 * The revocation log keeps an event only as long as a token can live: the server derives
 * the retention from --access-token-max-ttl and hands it to its store.
 */
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config/load.js";
import { eventRetentionMs, RETENTION_MARGIN_SECONDS } from "../../src/revocations/retention.js";
import { Tessera } from "../../src/tessera.js";

describe("revocation log retention", () => {
  it("is the longest access-token lifetime + the denylist grace + a margin", () => {
    expect(eventRetentionMs(3600)).toBe((3600 + 60 + RETENTION_MARGIN_SECONDS) * 1000);
  });

  it("the server's store drops an event after it, whatever the event's exp", async () => {
    const clock = new ManualClock();
    const config = loadConfig({ db: "memory:", accessTokenTtl: "60", accessTokenMaxTtl: "60" }, {});
    const tessera = await Tessera.open({ config, clock });
    try {
      const log = tessera.stores.ephemeral.revocations;
      const exp = Math.floor(clock.now() / 1000) + 24 * 3600;
      await log.append({ type: "jwt", jti: "j", iss: config.issuer, exp });
      clock.advance(eventRetentionMs(60) - 1000);
      expect((await log.snapshot()).events).toHaveLength(1);
      clock.advance(1000);
      expect((await log.snapshot()).events).toEqual([]);
    } finally {
      await tessera.close();
    }
  });
});
