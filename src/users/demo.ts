import { randomBytes } from "node:crypto";
import type { Users } from "./users.js";

/** The demo user `serve --demo` makes. */
export const DEMO_USER = "demo";

/**
 * Makes the demo user if there is none, with a random password returned once (stored only
 * as its hash). `undefined` when the user already exists.
 */
export async function ensureDemoUser(users: Users): Promise<{ password: string } | undefined> {
  if (await users.findByName(DEMO_USER)) return undefined;
  const password = randomBytes(15).toString("base64url");
  await users.create({ username: DEMO_USER, password });
  return { password };
}
