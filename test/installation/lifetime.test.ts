/**
 * The longest access-token lifetime of an installation is one value for every process of
 * it: an admin command (the CLI) that revokes must keep its revocation for as long as the
 * server's tokens can live, whatever its own `--access-token-max-ttl` says.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config/load.js";
import { Tessera } from "../../src/tessera.js";
import { PASSWORD } from "../support/harness.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** One installation on disk (SQLite, as `serve` and the CLI share it). */
function installation() {
  const data = mkdtempSync(join(tmpdir(), "tessera-lifetime-"));
  dirs.push(data);
  const cfg = (flags: Record<string, string>) =>
    loadConfig({ data, ...flags }, { TESSERA_SECRET: "s".repeat(32) });
  return { cfg };
}

/** The subject cutoffs a verifier connecting now would receive. */
async function subjectCutoffs(t: Tessera) {
  const { events } = await t.stores.ephemeral.revocations.snapshot();
  return events.map((e) => e.event).filter((e) => e.type === "subject");
}

describe("the installation's longest access-token lifetime", () => {
  it("a CLI revocation outlives every token the server may have issued (client remove, user disable)", async () => {
    const { cfg } = installation();
    const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
    const serverConfig = cfg({ accessTokenMaxTtl: "7200", accessTokenTtl: "7200" });
    const server = await Tessera.open({ config: serverConfig, clock });
    const { secret } = await server.clients.add({
      id: "svc",
      grants: ["client_credentials"],
      audience: ["https://api.example.test"],
      scopes: [],
    });
    expect(secret).toBeDefined();
    await server.users.create({ username: "bob", password: PASSWORD });
    const client = await server.clients.find("svc");
    if (client === undefined) throw new Error("no client");
    clock.advance(1000);
    const token = await server.accessTokens.issue({ client, sub: "svc", scope: [] });
    const tokenExp = Math.floor(clock.now() / 1000) + token.expiresIn;
    await server.close();

    // `tessera client remove svc` and `tessera user disable bob`, without the server's
    // --access-token-max-ttl (the CLI's default is 3600).
    const cli = await Tessera.open({ config: cfg({}), clock, role: "admin" });
    await cli.removeClient("svc");
    await cli.disableUser("bob");
    const cutoffs = await subjectCutoffs(cli);
    expect(cutoffs.map((c) => (c.type === "subject" ? c.sub : ""))).toHaveLength(2);
    for (const c of cutoffs) expect(c.exp).toBeGreaterThanOrEqual(tokenExp);
    await cli.close();

    // Ninety minutes on, the removed client's token still lives: a verifier connecting
    // now must still learn that it was revoked.
    clock.advance(90 * 60_000);
    expect(Math.floor(clock.now() / 1000)).toBeLessThan(tokenExp);
    const later = await Tessera.open({ config: serverConfig, clock });
    expect(await subjectCutoffs(later)).toHaveLength(2);
    await later.close();
  });

  it("serve records its lifetime for the other commands; a longer one of the CLI's own is kept", async () => {
    const { cfg } = installation();
    const clock = new ManualClock();
    const server = await Tessera.open({ config: cfg({ accessTokenMaxTtl: "7200" }), clock });
    expect(server.config.accessTokenMaxTtl).toBe(7200);
    await server.close();
    const cli = await Tessera.open({ config: cfg({}), clock, role: "admin" });
    expect(cli.config.accessTokenMaxTtl).toBe(7200);
    await cli.close();
    const longer = await Tessera.open({
      config: cfg({ accessTokenMaxTtl: "9000" }),
      clock,
      role: "admin",
    });
    expect(longer.config.accessTokenMaxTtl).toBe(9000);
    await longer.close();
  });
});
