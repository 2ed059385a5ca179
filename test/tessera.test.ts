import { describe, expect, it } from "vitest";
import { ManualClock } from "../src/clock.js";
import { loadConfig } from "../src/config/load.js";
import { MemoryStore } from "../src/store/memory.js";
import { Tessera } from "../src/tessera.js";
import { PASSWORD } from "./support/harness.js";

/**
 * A server whose sessions live in one ephemeral store (say Redis) and an admin CLI that
 * shares only the durable store (it was not given --redis): whatever the CLI ends must
 * still be ended for the server.
 */
async function serverAndCli() {
  const clock = new ManualClock();
  const config = loadConfig({ db: "memory:" }, { TESSERA_SECRET: "s".repeat(32) });
  const durable = new MemoryStore(clock);
  const redisLike = new MemoryStore(clock);
  const server = await Tessera.open({
    config,
    clock,
    stores: { durable, ephemeral: redisLike, close: async () => {} },
  });
  const cli = await Tessera.open({
    config,
    clock,
    stores: { durable, ephemeral: durable, close: async () => {} },
  });
  await cli.users.create({ username: "bob", password: PASSWORD });
  const { token } = await server.login({ username: "bob", password: PASSWORD, ip: "127.0.0.1" });
  clock.advance(1000);
  return { server, cli, token, clock };
}

describe("ending sessions holds across session stores", () => {
  it("an admin password reset from a CLI without the server's session store", async () => {
    const { server, cli, token } = await serverAndCli();
    expect(await server.sessions.resolve(token)).toBeDefined();
    const bob = await cli.users.require("bob");
    await cli.users.setPassword(bob, "a brand new passphrase");
    await cli.revokeAllForUser(bob.id);
    expect(await server.sessions.resolve(token)).toBeUndefined();
  });

  it("disable then enable never brings an old session back", async () => {
    const { server, cli, token } = await serverAndCli();
    await cli.disableUser("bob");
    await cli.enableUser("bob");
    expect(await server.sessions.resolve(token)).toBeUndefined();
    // Logging in again works.
    const { token: fresh } = await server.login({
      username: "bob",
      password: PASSWORD,
      ip: "127.0.0.1",
    });
    expect(await server.sessions.resolve(fresh)).toBeDefined();
  });

  it("log out everywhere, recorded durably", async () => {
    const { server, cli, token, clock } = await serverAndCli();
    const bob = await cli.users.require("bob");
    await cli.revokeAllForUser(bob.id);
    expect(await server.sessions.resolve(token)).toBeUndefined();
    clock.advance(1000);
    const { token: fresh } = await server.login({
      username: "bob",
      password: PASSWORD,
      ip: "127.0.0.1",
    });
    expect(await server.sessions.resolve(fresh)).toBeDefined();
  });
});
