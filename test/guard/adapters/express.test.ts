/** tessera/guard/express against a real Express 5 app listening on 127.0.0.1. */
import { type AddressInfo, connect } from "node:net";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guard, requireScopes } from "../../../src/guard/adapters/express.js";
import { adapterScenarios } from "./scenarios.js";
import { type Call, type Env, fromResponse, setup, summary } from "./support.js";

let env: Env;
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  env = await setup();
  const app = express();
  app.get("/me", guard(env.both), (req, res) => {
    res.json(summary(req.principal));
  });
  app.post("/me", guard(env.both), (req, res) => {
    res.json(summary(req.principal));
  });
  app.get("/read", guard(env.both), requireScopes("read"), (req, res) => {
    res.json(summary(req.principal));
  });
  app.get("/write", guard(env.both, { scopes: ["write"] }), (req, res) => {
    res.json(summary(req.principal));
  });
  app.get("/optional", guard(env.both, { optional: true }), (req, res) => {
    res.json(summary(req.principal));
  });
  app.get("/jwt-only", guard(env.guard), (req, res) => {
    res.json(summary(req.principal));
  });
  for (const method of ["get", "post", "put", "delete", "patch"] as const) {
    app[method]("/cookie", guard(env.cookieGuard), (req, res) => {
      res.json(summary(req.principal));
    });
  }
  app.get("/broken", guard({ verify: () => Promise.reject(new Error("boom")) }), (_req, res) => {
    res.json({ reached: true });
  });
  app.get("/no-guard", requireScopes("read"), (_req, res) => {
    res.json({ reached: true });
  });
  app.use(
    (err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ handled: err.message });
    },
  );
  const server = app.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
});

afterAll(async () => {
  await close?.();
  await env?.close();
});

const call: Call = async (path, headers = {}, method = "GET") =>
  fromResponse(await fetch(`${base}${path}`, { headers, method }));

describe("tessera/guard/express", () => {
  adapterScenarios(
    () => env,
    () => call,
  );

  it("other errors go to the app's error handler (next(err)), not answered as 401", async () => {
    const res = await call("/broken", { authorization: `Bearer ${env.ro}` });
    expect(res.status).toBe(500);
    expect(res.json()).toEqual({ handled: "boom" });
  });

  it("requireScopes without a guard before it: 401", async () => {
    const res = await call("/no-guard");
    expect(res.status).toBe(401);
    expect(res.header("www-authenticate")).toBe("Bearer");
  });

  it("two Authorization headers: 400 invalid_request, not the first one silently", async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const url = new URL(base);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.end(
          "GET /me HTTP/1.1\r\nHost: api\r\nConnection: close\r\n" +
            `Authorization: Bearer ${env.ro}\r\nAuthorization: Bearer ${env.rw}\r\n\r\n`,
        );
      });
      let text = "";
      socket.on("data", (c) => {
        text += c;
      });
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    const status = Number(raw.split(" ")[1]);
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4);
    expect(status).toBe(400);
    expect(JSON.parse(body).error).toBe("invalid_request");
  });

  it("passes a renewed session cookie on after a privilege change", async () => {
    const token = await env.login();
    await env.s.tessera.users.setRoles("alice", ["admin"]);
    try {
      const res = await call("/me", { cookie: `__Host-session=${token}` });
      expect(res.status).toBe(200);
      expect(res.setCookies).toHaveLength(1);
      const renewed = /^__Host-session=(tsr_[A-Za-z0-9_-]{57});/.exec(res.setCookies[0] ?? "")?.[1];
      expect(renewed).toBeDefined();
      expect(renewed).not.toBe(token);
      // the old id died at once; the new one works
      expect((await call("/me", { cookie: `__Host-session=${token}` })).status).toBe(401);
      expect((await call("/me", { cookie: `__Host-session=${renewed}` })).status).toBe(200);
    } finally {
      await env.s.tessera.users.setRoles("alice", []);
    }
  });

  it("checks its arguments when the app is built", () => {
    expect(() => guard({} as never)).toThrow(TypeError);
    expect(() => guard(env.guard, { scopes: ["bad scope"] })).toThrow(/scope-token/);
    expect(() => guard(env.guard, { scope: ["read"] } as never)).toThrow(/not an option/);
    expect(() => requireScopes('a"b')).toThrow(TypeError);
  });
});
