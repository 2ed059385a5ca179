import { afterEach, describe, expect, it } from "vitest";
import { cookie, login, type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => {
  await s?.close();
});

const FORM = {
  "content-type": "application/x-www-form-urlencoded",
  accept: "text/html",
  "sec-fetch-site": "same-origin",
};

async function session(token: string) {
  return s.app.inject({ method: "GET", url: "/session", headers: cookie(token) });
}

describe("GET /account: sessions and devices, without JavaScript", () => {
  it("lists the user's sessions, marks this device, and ends another one with a form", async () => {
    s = await testServer();
    const laptop = await login(s.app, "alice", undefined, { "user-agent": "Laptop <b>" });
    const phone = await login(s.app, "alice", undefined, { "user-agent": "Phone" });
    const page = await s.app.inject({ method: "GET", url: "/account", headers: cookie(laptop) });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain("Laptop &lt;b&gt; <strong>(this device)</strong>");
    expect(page.body).toContain("Phone<br>");
    expect(page.body).not.toContain(laptop);
    expect(page.body).not.toContain(phone);
    const phoneId = (await session(phone)).json().session.id;
    expect(page.body).toContain(`action="/sessions/${phoneId}/end"`);

    const end = await s.app.inject({
      method: "POST",
      url: `/sessions/${phoneId}/end`,
      headers: { ...cookie(laptop), ...FORM },
      payload: "",
    });
    expect(end.statusCode).toBe(303);
    expect(end.headers.location).toBe("/account");
    expect((await session(phone)).statusCode).toBe(401);
    expect((await session(laptop)).statusCode).toBe(200);
  });

  it("refuses a cross-site form, and without a session sends the browser to the start page", async () => {
    s = await testServer();
    const laptop = await login(s.app);
    const phone = await login(s.app);
    const phoneId = (await session(phone)).json().session.id;
    const cross = await s.app.inject({
      method: "POST",
      url: `/sessions/${phoneId}/end`,
      headers: { ...cookie(laptop), ...FORM, "sec-fetch-site": "cross-site" },
      payload: "",
    });
    expect(cross.statusCode).toBe(403);
    expect((await session(phone)).statusCode).toBe(200);
    const anonymous = await s.app.inject({ method: "GET", url: "/account" });
    expect(anonymous.statusCode).toBe(303);
    expect(anonymous.headers.location).toBe("/");
  });

  it("ending this device's own session clears its cookie; 'Log out everywhere' ends them all", async () => {
    s = await testServer();
    const a = await login(s.app);
    const b = await login(s.app);
    const c = await login(s.app);
    const aId = (await session(a)).json().session.id;
    const own = await s.app.inject({
      method: "POST",
      url: `/sessions/${aId}/end`,
      headers: { ...cookie(a), ...FORM },
      payload: "",
    });
    expect(own.headers.location).toBe("/");
    expect(String(own.headers["set-cookie"])).toMatch(/^__Host-session=; .*Max-Age=0/);
    const page = await s.app.inject({ method: "GET", url: "/account", headers: cookie(b) });
    expect(page.body).toContain('<input type="hidden" name="all" value="true">');
    const everywhere = await s.app.inject({
      method: "POST",
      url: "/logout",
      headers: { ...cookie(b), ...FORM },
      payload: "all=true",
    });
    expect(everywhere.statusCode).toBe(303);
    expect((await session(b)).statusCode).toBe(401);
    expect((await session(c)).statusCode).toBe(401);
  });
});
