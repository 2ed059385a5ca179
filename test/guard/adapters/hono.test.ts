/** tessera/guard/hono against a real Hono app (driven with app.request()). */
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GuardEnv, honoGuard, requireScopes } from "../../../src/guard/adapters/hono.js";
import { adapterScenarios } from "./scenarios.js";
import { type Call, type Env, fromResponse, setup, summary } from "./support.js";

let env: Env;
let app: Hono<GuardEnv>;

beforeAll(async () => {
  env = await setup();
  app = new Hono<GuardEnv>();
  app.get("/me", honoGuard(env.both), (c) => c.json(summary(c.get("principal"))));
  app.post("/me", honoGuard(env.both), (c) => c.json(summary(c.get("principal"))));
  app.get("/read", honoGuard(env.both), requireScopes("read"), (c) =>
    c.json(summary(c.get("principal"))),
  );
  app.get("/write", honoGuard(env.both, { scopes: ["write"] }), (c) =>
    c.json(summary(c.get("principal"))),
  );
  app.get("/optional", honoGuard(env.both, { optional: true }), (c) =>
    c.json(summary(c.get("principal"))),
  );
  app.get("/jwt-only", honoGuard(env.guard), (c) => c.json(summary(c.get("principal"))));
  app.on(["GET", "POST", "PUT", "DELETE", "PATCH"], "/cookie", honoGuard(env.cookieGuard), (c) =>
    c.json(summary(c.get("principal"))),
  );
  app.use("/api/*", honoGuard(env.guard));
  app.get("/api/orders", requireScopes("read"), (c) => c.json({ for: c.get("principal")?.sub }));
  app.get("/broken", honoGuard({ verify: () => Promise.reject(new Error("boom")) }), (c) =>
    c.json({ reached: true }),
  );
  app.onError((err, c) => c.json({ handled: err.message }, 500));
});

afterAll(async () => env?.close());

const call: Call = async (path, headers = {}, method = "GET") =>
  fromResponse(await app.request(path, { headers, method }));

describe("tessera/guard/hono", () => {
  adapterScenarios(
    () => env,
    () => call,
  );

  it("app.use on a path guards every route under it", async () => {
    expect((await call("/api/orders")).status).toBe(401);
    const ok = await call("/api/orders", { authorization: `Bearer ${env.ro}` });
    expect(ok.json()).toEqual({ for: "reader" });
  });

  it("CSRF: the request's own origin is allowed (c.req.raw.url is absolute)", async () => {
    const cookie = `__Host-session=${await env.login()}`;
    const own = await call("/me", { cookie, origin: "http://localhost" }, "POST");
    expect(own.status).toBe(200);
    expect((await call("/me", { cookie, origin: "http://evil.localhost" }, "POST")).status).toBe(
      403,
    );
  });

  it("other errors reach app.onError, not answered as 401", async () => {
    const res = await call("/broken", { authorization: `Bearer ${env.ro}` });
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({ handled: "boom" });
  });

  it("passes a renewed session cookie on after a privilege change", async () => {
    const token = await env.login();
    await env.s.tessera.users.setRoles("alice", ["admin"]);
    try {
      const res = await call("/me", { cookie: `__Host-session=${token}` });
      expect(res.status).toBe(200);
      expect(res.setCookies).toHaveLength(1);
      expect(res.setCookies[0]).toMatch(/^__Host-session=tsr_[A-Za-z0-9_-]{57};/);
    } finally {
      await env.s.tessera.users.setRoles("alice", []);
    }
  });
});
