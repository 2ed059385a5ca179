/**
 * What one user can make the authorization endpoint hold (issue 16.3): one pending consent
 * question per (session, client), at most PENDING_CODES_PER_USER_AND_CLIENT unredeemed
 * codes per (user, client), and request values of bounded size.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  MAX_STATE_LENGTH,
  PENDING_CONSENTS_PER_SESSION_AND_CLIENT,
} from "../../src/oauth/authorize.js";
import { PENDING_CODES_PER_USER_AND_CLIENT } from "../../src/oauth/codes.js";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";
import { API, FORM, pkce, post } from "./support.js";

const CB = "https://app.example.com/cb";
const { verifier: VERIFIER, challenge: CHALLENGE } = pkce();

let s: TestServer;
afterEach(async () => s?.close());

async function setup() {
  s = await testServer({ users: ["alice", "bob"] });
  const base = {
    grants: ["authorization_code", "refresh_token"],
    audience: [API],
    scopes: ["read"],
    redirectUris: [CB],
    public: true,
  };
  for (const id of ["app", "app2"]) await s.tessera.clients.add({ ...base, id });
  for (const id of ["first", "first2"])
    await s.tessera.clients.add({ ...base, id, firstParty: true });
  return { alice: await login(s.app, "alice"), bob: await login(s.app, "bob") };
}

function authorize(session: string, clientId: string, state: string) {
  const q = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: CB,
    state,
    code_challenge: CHALLENGE,
    code_challenge_method: "S256",
  });
  return s.app.inject({ method: "GET", url: `/oauth/authorize?${q}`, headers: cookie(session) });
}

/** The consent page's interaction id. */
async function consent(session: string, clientId: string, state: string): Promise<string> {
  const res = await authorize(session, clientId, state);
  expect(res.statusCode).toBe(200);
  const m = /name="interaction" value="([^"]*)"/.exec(res.body);
  if (m === null) throw new Error("no consent page");
  return m[1] as string;
}

function decide(session: string, interaction: string) {
  return s.app.inject({
    method: "POST",
    url: "/oauth/authorize/decision",
    headers: { ...FORM, ...cookie(session) },
    payload: new URLSearchParams({ interaction, decision: "approve" }).toString(),
  });
}

/** The redirect's parameters. */
function redirectParams(res: { statusCode: number; headers: Record<string, unknown> }) {
  expect(res.statusCode).toBe(303);
  return new URL(String(res.headers.location)).searchParams;
}

/** A code for a first-party client, by the authorization endpoint. */
async function code(session: string, clientId = "first", state = "s"): Promise<string> {
  return redirectParams(await authorize(session, clientId, state)).get("code") as string;
}

function exchange(code: string, clientId = "first") {
  return post(s, "/oauth/token", {
    grant_type: "authorization_code",
    code,
    redirect_uri: CB,
    code_verifier: VERIFIER,
    client_id: clientId,
  });
}

async function userId(name: string): Promise<string> {
  return (await s.tessera.users.require(name)).id;
}

/** The user's stored records of a collection: [all, unconsumed]. */
async function stored(name: "interaction" | "code", user: string): Promise<[number, number]> {
  const records = await s.tessera.stores.ephemeral.collection(name).listByUser(await userId(user));
  return [records.length, records.filter((r) => r.record.consumedAt === undefined).length];
}

describe("pending consent: one per (session, client)", () => {
  it("is the documented bound", () => {
    expect(PENDING_CONSENTS_PER_SESSION_AND_CLIENT).toBe(1);
  });

  it("a new request replaces the unanswered one: of two tabs, the later one's page works", async () => {
    const { alice } = await setup();
    const older = await consent(alice, "app", "tab-1");
    const newer = await consent(alice, "app", "tab-2");
    const stale = await decide(alice, older);
    expect(stale.statusCode).toBe(400);
    expect(stale.body).toContain("<code>interaction_invalid</code>");
    expect(stale.body).toContain("a newer request for this application replaced it");
    const params = redirectParams(await decide(alice, newer));
    expect(params.get("state")).toBe("tab-2");
    expect(params.get("code")).toBeTruthy();
  });

  it("many requests from one session leave one stored question", async () => {
    const { alice } = await setup();
    let last = "";
    for (let i = 0; i < 50; i++) last = await consent(alice, "app", `r${i}`);
    expect(await stored("interaction", "alice")).toEqual([1, 1]);
    expect(redirectParams(await decide(alice, last)).get("state")).toBe("r49");
  });

  it("other clients and other sessions keep their own", async () => {
    const { alice } = await setup();
    const alice2 = await login(s.app, "alice");
    const app = await consent(alice, "app", "a");
    const app2 = await consent(alice, "app2", "b");
    const other = await consent(alice2, "app", "c");
    expect(await stored("interaction", "alice")).toEqual([3, 3]);
    expect(redirectParams(await decide(alice, app)).get("state")).toBe("a");
    expect(redirectParams(await decide(alice, app2)).get("state")).toBe("b");
    expect(redirectParams(await decide(alice2, other)).get("state")).toBe("c");
  });
});

describe(`codes: at most ${PENDING_CODES_PER_USER_AND_CLIENT} unredeemed per (user, client)`, () => {
  it("is the documented bound", () => {
    expect(PENDING_CODES_PER_USER_AND_CLIENT).toBe(10);
  });

  it("one more invalidates the oldest; the others still work", async () => {
    const { alice } = await setup();
    const codes: string[] = [];
    for (let i = 0; i <= PENDING_CODES_PER_USER_AND_CLIENT; i++) codes.push(await code(alice));
    expect(await stored("code", "alice")).toEqual([10, 10]);
    const oldest = await exchange(codes[0] as string);
    expect(oldest.statusCode).toBe(400);
    expect(oldest.json().error).toBe("invalid_grant");
    for (const c of codes.slice(1)) expect((await exchange(c)).statusCode).toBe(200);
  });

  it("many requests leave at most the bound, and the latest code works", async () => {
    const { alice } = await setup();
    let last = "";
    for (let i = 0; i < 100; i++) last = await code(alice);
    expect(await stored("code", "alice")).toEqual([10, 10]);
    expect((await exchange(last)).statusCode).toBe(200);
  });

  it("redeemed codes do not count, and a replay of one is still caught", async () => {
    const { alice } = await setup();
    const used = await code(alice);
    const first = (await exchange(used)).json();
    for (let i = 0; i < 2 * PENDING_CODES_PER_USER_AND_CLIENT; i++) await code(alice);
    expect(await stored("code", "alice")).toEqual([11, 10]);
    expect((await exchange(used)).json().error).toBe("invalid_grant");
    const refreshed = await post(s, "/oauth/token", {
      grant_type: "refresh_token",
      refresh_token: first.refresh_token,
      client_id: "first",
    });
    expect(refreshed.json().error).toBe("invalid_grant");
  });

  it("other users and other clients have their own", async () => {
    const { alice, bob } = await setup();
    const bobs = await code(bob);
    const alices2 = await code(alice, "first2");
    for (let i = 0; i < 2 * PENDING_CODES_PER_USER_AND_CLIENT; i++) await code(alice);
    expect((await exchange(bobs)).statusCode).toBe(200);
    expect((await exchange(alices2, "first2")).statusCode).toBe(200);
  });
});

describe("stored request values are bounded", () => {
  it(`state: up to ${MAX_STATE_LENGTH} characters are kept, more are refused before anything is stored`, async () => {
    const { alice } = await setup();
    const longest = "s".repeat(MAX_STATE_LENGTH);
    const params = redirectParams(await decide(alice, await consent(alice, "app", longest)));
    expect(params.get("state")).toBe(longest);
    const refused = redirectParams(await authorize(alice, "app", `${longest}s`));
    expect(refused.get("error")).toBe("invalid_request");
    expect(refused.has("state")).toBe(false);
    expect(await stored("interaction", "alice")).toEqual([1, 0]);
  });
});
