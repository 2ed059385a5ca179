/**
 * A user-wide cutoff (password change, log out everywhere) whose revocation log is down
 * (Redis stopped) while it runs. Verifiers learn the cutoff only from the log; the server
 * enforces it from the durable user record. The contract: the request answers 503
 * `store_unavailable`, and then either nothing changed — so the same request can be made
 * again and succeed — or the log has the cutoff. Never the half in between: the durable
 * cutoff made (the password changed, the caller's session ended, so the request cannot be
 * repeated) while verifiers never hear of it and keep accepting the user's JWTs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { TesseraError } from "../../src/errors.js";
import type { EventLog } from "../../src/store/types.js";
import { cookie, login, PASSWORD, type TestServer, testServer } from "../support/harness.js";

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

/** The next append to the log fails as an unreachable Redis does. */
function failNextAppend(log: EventLog): void {
  const original = log.append.bind(log);
  let armed = true;
  log.append = async (event) => {
    if (!armed) return original(event);
    armed = false;
    throw new TesseraError("store_unavailable", "The Redis store is unavailable.", {
      retryAfter: 1,
    });
  };
}

async function subjectEvents(server: TestServer, sub: string): Promise<number> {
  const { events } = await server.tessera.stores.ephemeral.revocations.snapshot();
  return events.filter((e) => e.event.type === "subject" && e.event.sub === sub).length;
}

describe("a user cutoff while the revocation log is down", () => {
  it("POST /password: 503, and the same request made again succeeds and reaches the log", async () => {
    s = await testServer();
    const session = await login(s.app);
    s.clock.advance(1000); // the cutoff comes after the sign-in, by the clock
    const alice = await s.tessera.users.require("alice");
    failNextAppend(s.tessera.stores.ephemeral.revocations);
    const change = {
      method: "POST" as const,
      url: "/password",
      headers: cookie(session),
      payload: { currentPassword: PASSWORD, newPassword: "Amber-Falcon-Riverbed-62" },
    };
    const first = await s.app.inject(change);
    expect(first.statusCode).toBe(503);
    expect(first.json()).toMatchObject({ error: "store_unavailable" });

    s.clock.advance(1000);
    const again = await s.app.inject(change);
    expect(again.statusCode, again.body).toBe(200);
    expect(await subjectEvents(s, alice.id)).toBeGreaterThan(0);
  });

  it('POST /logout {"all":true}: 503, and the same request made again succeeds and reaches the log', async () => {
    s = await testServer();
    const session = await login(s.app);
    s.clock.advance(1000); // the cutoff comes after the sign-in, by the clock
    const alice = await s.tessera.users.require("alice");
    failNextAppend(s.tessera.stores.ephemeral.revocations);
    const logoutAll = {
      method: "POST" as const,
      url: "/logout",
      headers: cookie(session),
      payload: { all: true },
    };
    const first = await s.app.inject(logoutAll);
    expect(first.statusCode).toBe(503);

    s.clock.advance(1000);
    const again = await s.app.inject(logoutAll);
    expect(again.statusCode, again.body).toBe(204);
    expect(await subjectEvents(s, alice.id)).toBeGreaterThan(0);
    expect(
      (await s.app.inject({ method: "GET", url: "/session", headers: cookie(session) })).statusCode,
    ).toBe(401);
  });
});
