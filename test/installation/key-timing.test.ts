/**
 * A key rotated in by the CLI (`tessera keys rotate`) must not sign before every server has
 * published it: the CLI's own --key-activation-delay is lengthened past the reload interval
 * the servers recorded, whatever the CLI's own settings say.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config/load.js";
import { Tessera } from "../../src/tessera.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function installation() {
  const data = mkdtempSync(join(tmpdir(), "tessera-key-timing-"));
  dirs.push(data);
  return (flags: Record<string, string>) =>
    loadConfig({ data, ...flags }, { TESSERA_SECRET: "s".repeat(32) });
}

describe("the activation delay of a key rotated by another process", () => {
  it("exceeds the reload interval the servers recorded (CLI defaults: delay 600 s, reload 30 s)", async () => {
    const cfg = installation();
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    // The servers reload keys every 15 minutes and publish 20 minutes ahead.
    const server = await Tessera.open({
      config: cfg({ keysReloadInterval: "900", keyActivationDelay: "1200" }),
      clock,
    });
    await server.close();

    const cli = await Tessera.open({ config: cfg({}), clock, role: "admin" });
    const rotated = await cli.keys.rotate();
    // Published now, signing only after every server's next reload (900 s) has seen it.
    expect(rotated.activatesAt - clock.now()).toBeGreaterThan(900_000);
    await cli.close();
  });

  it("keeps the CLI's own delay when it is the longer one", async () => {
    const cfg = installation();
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    await (await Tessera.open({ config: cfg({}), clock })).close();
    const cli = await Tessera.open({
      config: cfg({ keyActivationDelay: "3600" }),
      clock,
      role: "admin",
    });
    const rotated = await cli.keys.rotate();
    expect(rotated.activatesAt - clock.now()).toBe(3_600_000);
    await cli.close();
  });
});
