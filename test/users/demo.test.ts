import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { MemoryStore } from "../../src/store/memory/index.js";
import { DEMO_USER, ensureDemoUser } from "../../src/users/demo.js";
import { PasswordHasher } from "../../src/users/passwords.js";
import { Users } from "../../src/users/users.js";

describe("the demo user of serve --demo", () => {
  it("is made once, with a random password returned only then", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore(clock);
    const hasher = new PasswordHasher();
    const users = new Users(store.users, hasher, clock);
    const created = await ensureDemoUser(users);
    expect(created?.password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    const user = await users.require(DEMO_USER);
    expect(await hasher.verify(user.passwordHash, created?.password as string)).toBe(true);
    expect(await ensureDemoUser(users)).toBeUndefined();
    expect(await users.list()).toHaveLength(1);
  });
});
