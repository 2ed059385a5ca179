import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import { PasswordHasher } from "../../src/users/passwords.js";
import { Users } from "../../src/users/users.js";

const PASSWORD = "Velvet-Harbor-Quince-73";

describe("upgrading a password hash at login", () => {
  it("changes only the hash: a disable made while it hashed is kept", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    const weak = new Users(store.users, new PasswordHasher(), clock);
    const { id } = await weak.create({ username: "alice", password: PASSWORD });
    const created = await store.users.findUserById(id);
    if (created === undefined) throw new Error("not created");
    const hasher = new PasswordHasher({ memoryCost: 19456, timeCost: 3, parallelism: 1 });
    const users = new Users(store.users, hasher, clock);
    const hash = hasher.hash.bind(hasher);
    hasher.hash = async (password, source) => {
      const out = await hash(password, source);
      // An administrator disables the user while the new hash is being computed.
      await weak.setDisabled("alice", true, async () => {});
      return out;
    };
    await users.rehashIfNeeded(created, PASSWORD);
    const after = await store.users.findUserById(id);
    expect(after?.disabled).toBe(true);
    expect(after?.passwordHash).toMatch(/t=3/);
  });
});
