/**
 * A whole web relying-party framework nobody here wrote, express-openid-connect (Auth0's
 * middleware for Express, on openid-client), signs a user in and out of a real `tessera
 * serve --demo` through Chromium: its /login (code flow, PKCE, nonce, response_mode=
 * form_post), Tessera's sign-in and consent pages, its /callback, `req.oidc.user`, and its
 * /logout with `idpLogout` (RP-initiated logout, back to the app).
 *
 * The framework is not a dependency of Tessera: it is installed for this test into a
 * temporary directory (`npm install --prefer-offline`: the npm cache answers what it can).
 * Skipped with a warning when /usr/bin/chromium is absent (TESSERA_REQUIRE_CHROMIUM=1: fail).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import type { Browser, BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeChromium, launchChromium } from "../support/chromium.js";
import {
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

const STEP_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 90_000;
/** The versions installed for the test (express as Tessera's own dev dependency). */
const PACKAGES = ["express-openid-connect@3.4.0", "express@5.3.0"];

let dir: string;
let browser: Browser;
let context: BrowserContext | undefined;
let tessera: ServerProcess;
let base: string;
let demoPassword: string;
let rp: Server;
let rpOrigin: string;
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
  res.writeHead(503).end();

type Middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
interface ExpressApp {
  (req: IncomingMessage, res: ServerResponse): void;
  use(m: Middleware): void;
  get(path: string, h: (req: OidcRequest, res: { send(body: string): void }) => void): void;
}
interface OidcRequest {
  oidc: { isAuthenticated(): boolean; user?: { name?: string; email?: string } };
}

async function install(): Promise<string> {
  const target = mkdtempSync(join(tmpdir(), "tessera-eoc-"));
  writeFileSync(join(target, "package.json"), '{"name":"rp","private":true}\n');
  await promisify(execFile)(
    "npm",
    ["install", "--no-audit", "--no-fund", "--prefer-offline", "--ignore-scripts", ...PACKAGES],
    { cwd: target, timeout: 180_000 },
  );
  return target;
}

const load = async <T>(name: string): Promise<T> =>
  (await import(pathToFileURL(join(dir, "node_modules", name, "index.js")).href)).default as T;

describeChromium("express-openid-connect signs a user in and out of Tessera (Chromium)", () => {
  beforeAll(async () => {
    dir = await install();
    rp = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => rp.listen(0, "127.0.0.1", resolve));
    rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;

    const data = tempDataDir();
    const added = await runCli([
      "client",
      "add",
      "eoc",
      "--grants",
      "authorization_code",
      "--audience",
      rpOrigin,
      "--scopes",
      "profile email",
      "--redirect-uri",
      `${rpOrigin}/callback`,
      "--oidc",
      "--post-logout-redirect-uri",
      rpOrigin,
      "--data",
      data,
      "--init",
    ]);
    expect(added.code, added.stderr).toBe(0);
    const secret = /client_secret: (\S+)/.exec(added.stdout)?.[1] as string;
    tessera = await startServer(["--data", data, "--demo"]);
    base = `http://localhost:${tessera.port}`;
    demoPassword = /password "([^"]+)"/.exec(tessera.stdout())?.[1] as string;
    const named = await runCli([
      "user",
      "profile",
      "demo",
      "--name",
      "Demo User",
      "--email",
      "demo@example.com",
      "--data",
      data,
    ]);
    expect(named.code, named.stderr).toBe(0);

    const express = await load<() => ExpressApp>("express");
    const { auth } = await load<{ auth: (config: object) => Middleware }>("express-openid-connect");
    const app = express();
    app.use(
      auth({
        issuerBaseURL: base,
        baseURL: rpOrigin,
        clientID: "eoc",
        clientSecret: secret,
        secret: "a long, random secret for the session cookie",
        authRequired: false,
        idpLogout: true,
        authorizationParams: {
          response_type: "code",
          response_mode: "form_post",
          scope: "openid profile email",
        },
      }),
    );
    app.get("/", (req, res) =>
      res.send(
        `<p id="msg">${req.oidc.isAuthenticated() ? `Hello ${req.oidc.user?.name} (${req.oidc.user?.email})` : "anonymous"}</p>`,
      ),
    );
    handler = app;
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    rp?.closeAllConnections();
    await new Promise((resolve) => (rp ? rp.close(resolve) : resolve(undefined)));
    await stopAllServers();
    removeTempDirs();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it(
    "its /login, Tessera's pages, its /callback (form_post): req.oidc.user; its /logout ends the Tessera session",
    async () => {
      context = await browser.newContext();
      context.setDefaultTimeout(STEP_TIMEOUT_MS);
      const page = await context.newPage();
      await page.goto(`${rpOrigin}/login`);
      await page.getByLabel("Username").fill("demo");
      await page.getByLabel("Password").fill(demoPassword);
      await page.getByRole("button", { name: "Sign in" }).click();
      const approve = page.getByRole("button", { name: "Approve" });
      await approve.waitFor();
      await Promise.all([
        page.waitForURL((u) => u.origin === rpOrigin && u.pathname === "/"),
        approve.click(),
      ]);
      expect(await page.locator("#msg").textContent()).toBe("Hello Demo User (demo@example.com)");

      await page.goto(`${rpOrigin}/logout`);
      await page.waitForURL((u) => u.origin === rpOrigin && u.pathname === "/");
      expect(await page.locator("#msg").textContent()).toBe("anonymous");
      expect((await page.goto(`${base}/session`))?.status()).toBe(401);
    },
    TEST_TIMEOUT_MS,
  );
});
