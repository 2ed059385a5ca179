/** tessera/guard/fastify against a real Fastify app (driven with inject). */
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fastifyGuard, requireScopes } from "../../../src/guard/adapters/fastify.js";
import { adapterScenarios } from "./scenarios.js";
import { type Answer, type Call, type Env, setup, summary } from "./support.js";

let env: Env;
let app: FastifyInstance;

beforeAll(async () => {
  env = await setup();
  app = Fastify();
  app.get("/me", { onRequest: fastifyGuard(env.both) }, async (req) => summary(req.principal));
  app.post("/me", { onRequest: fastifyGuard(env.both) }, async (req) => summary(req.principal));
  app.get(
    "/read",
    { onRequest: fastifyGuard(env.both), preHandler: requireScopes("read") },
    async (req) => summary(req.principal),
  );
  app.get("/write", { preHandler: fastifyGuard(env.both, { scopes: ["write"] }) }, async (req) =>
    summary(req.principal),
  );
  app.get("/optional", { onRequest: fastifyGuard(env.both, { optional: true }) }, async (req) =>
    summary(req.principal),
  );
  app.get("/jwt-only", { onRequest: fastifyGuard(env.guard) }, async (req) =>
    summary(req.principal),
  );
  app.route({
    method: ["GET", "POST", "PUT", "DELETE", "PATCH"],
    url: "/cookie",
    onRequest: fastifyGuard(env.cookieGuard),
    handler: async (req) => summary(req.principal),
  });
  // A whole encapsulated context behind one hook.
  await app.register(
    async (api) => {
      api.addHook("onRequest", fastifyGuard(env.guard, { scopes: ["read"] }));
      api.get("/orders", async (req) => ({ orders: [], for: req.principal?.sub }));
    },
    { prefix: "/api" },
  );
  app.get(
    "/broken",
    { onRequest: fastifyGuard({ verify: () => Promise.reject(new Error("boom")) }) },
    async () => ({ reached: true }),
  );
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await env?.close();
});

const call: Call = async (path, headers = {}, method = "GET") => {
  const res = await app.inject({ method: method as "GET", url: path, headers });
  const header = (n: string) => {
    const v = res.headers[n.toLowerCase()];
    return v === undefined ? undefined : Array.isArray(v) ? v.join(", ") : String(v);
  };
  const sc = res.headers["set-cookie"];
  const answer: Answer = {
    status: res.statusCode,
    header,
    setCookies: sc === undefined ? [] : Array.isArray(sc) ? sc : [String(sc)],
    text: res.body,
    json: () => JSON.parse(res.body),
  };
  return answer;
};

describe("tessera/guard/fastify", () => {
  adapterScenarios(
    () => env,
    () => call,
  );

  it("a hook on an encapsulated context guards every route in it", async () => {
    expect((await call("/api/orders")).status).toBe(401);
    const ok = await call("/api/orders", { authorization: `Bearer ${env.ro}` });
    expect(ok.status).toBe(200);
    expect(ok.json()).toEqual({ orders: [], for: "reader" });
  });

  it("other errors go to Fastify's error handler (500), not a 401", async () => {
    const res = await call("/broken", { authorization: `Bearer ${env.ro}` });
    expect(res.status).toBe(500);
  });

  it("passes a renewed session cookie on after a privilege change", async () => {
    const token = await env.login();
    await env.s.tessera.users.setRoles("alice", ["admin"]);
    try {
      const res = await call("/me", { cookie: `__Host-session=${token}` });
      expect(res.status).toBe(200);
      expect(res.setCookies).toHaveLength(1);
      expect(res.setCookies[0]).toMatch(/^__Host-session=tsr_[A-Za-z0-9_-]{57}; Path=\/; Secure/);
    } finally {
      await env.s.tessera.users.setRoles("alice", []);
    }
  });
});
