/**
 * The BFF in a real browser (Debian's Chromium, headless, playwright-core): the demo SPA
 * at http://localhost:BFF, Tessera at http://localhost:TESSERA (its issuer), an API that
 * verifies the bearer token with tessera/guard, and "another site" at
 * http://127.0.0.1:OTHER. Chromium treats localhost and 127.0.0.1 as potentially
 * trustworthy, so `__Host-` cookies (Secure) work on plain http there; they are different
 * sites, so SameSite=Strict applies between them.
 *
 * All in-process, on one frozen clock: "let the access token expire" is a clock step.
 * Skipped with a warning without /usr/bin/chromium; fails with TESSERA_REQUIRE_CHROMIUM=1.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Fastify, { type FastifyInstance } from "fastify";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Bff } from "../../src/bff/bff.js";
import { bffDemoRoutes } from "../../src/bff/demo.js";
import { bffRoutes } from "../../src/bff/plugin.js";
import { createGuard, type Guard } from "../../src/guard/index.js";
import { describeChromium, launchChromium } from "../support/chromium.js";
import { PASSWORD, type TestServer, testServer } from "../support/harness.js";

const STEP_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 90_000;
const AUDIENCE = "https://api.example.com";
const SHOTS = new URL("../../test-results/", import.meta.url);
/** Anything shaped like a Tessera token (JWT or secret token). */
const TOKEN = /eyJ[A-Za-z0-9_-]{10,}\.|tsr_[A-Za-z0-9_-]{20,}/;

let browser: Browser;
let s: TestServer;
let tesseraOrigin: string;
let bffApp: FastifyInstance;
let bff: Bff;
let bffOrigin: string;
let api: Server;
let guard: Guard;
let other: Server;
let otherOrigin: string;
/** Requests that reached the BFF, with whether they carried the cookie. */
const bffHits: Array<{ method: string; url: string; cookie: boolean }> = [];

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
}

function autoSubmit(action: string): string {
  return `<!doctype html><html><body><form method="post" action="${action}"><input type="hidden" name="a" value="1"></form><script>document.forms[0].submit()</script></body></html>`;
}

async function newPage(): Promise<{ context: BrowserContext; page: Page; urls: string[] }> {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const urls: string[] = [];
  page.on("request", (r) => urls.push(r.url()));
  return { context, page, urls };
}

/** Logs in from the demo page through Tessera's sign-in form, back to the SPA. */
async function logIn(page: Page): Promise<void> {
  await page.goto(`${bffOrigin}/`);
  await page.getByRole("status").getByText("Not signed in.").waitFor();
  await page.getByRole("link", { name: "Log in" }).click();
  await page.getByLabel("Username").fill("alice");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${bffOrigin}/`);
  await page.getByRole("status").getByText("Signed in.").waitFor();
}

async function callApi(page: Page): Promise<string> {
  await page.locator("#answer").evaluate((e) => {
    e.textContent = "";
  });
  await page.getByRole("button", { name: "Call the API" }).click();
  await page
    .locator("#answer")
    .filter({ hasText: /^\d{3} in/ })
    .waitFor();
  return (await page.locator("#answer").textContent()) ?? "";
}

/** What a page's JavaScript can see of credentials: cookies and both storages. */
function visibleToScript(page: Page) {
  // A string: evaluated in the page (this file is compiled without the DOM's types).
  return page.evaluate(
    "({ cookie: document.cookie, local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) })",
  );
}

describeChromium("the BFF in a real browser", () => {
  beforeAll(async () => {
    const tesseraPort = await freePort();
    tesseraOrigin = `http://localhost:${tesseraPort}`;
    s = await testServer({ settings: { issuer: tesseraOrigin } });
    await s.app.listen({ port: tesseraPort, host: "127.0.0.1" });

    guard = createGuard({
      issuer: tesseraOrigin,
      audience: AUDIENCE,
      jwks: `http://127.0.0.1:${tesseraPort}/.well-known/jwks.json`,
      clock: s.clock,
      revocations: false,
    });
    api = createServer(async (req, res) => {
      try {
        const p = await guard.verify({ authorization: req.headers.authorization });
        const auth = req.headers.authorization ?? "";
        // A fingerprint of the token (to see a refresh), never the token.
        const token = createHash("sha256").update(auth).digest("hex").slice(0, 12);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ sub: p.sub, token, cookie: req.headers.cookie ?? null }));
      } catch {
        res.writeHead(401).end('{"error":"invalid_token"}');
      }
    });
    const apiPort = await listen(api);

    const bffPort = await freePort();
    bffOrigin = `http://localhost:${bffPort}`;
    const { secret } = await s.tessera.clients.add({
      id: "spa",
      grants: ["authorization_code", "refresh_token"],
      audience: [AUDIENCE],
      scopes: ["read"],
      redirectUris: [`${bffOrigin}/bff/callback`],
      firstParty: true,
      introspect: true,
    });
    bff = new Bff(
      {
        issuer: tesseraOrigin,
        issuerUrl: `http://127.0.0.1:${tesseraPort}`,
        clientId: "spa",
        clientSecret: secret as string,
        publicUrl: bffOrigin,
        upstreams: { orders: `http://127.0.0.1:${apiPort}/orders` },
        clock: s.clock,
        revocations: false,
      },
      s.tessera.stores.ephemeral,
    );
    bffApp = Fastify();
    bffApp.addHook("onRequest", async (req) => {
      bffHits.push({
        method: req.method,
        url: req.url,
        cookie: (req.headers.cookie ?? "").includes("__Host-bff="),
      });
    });
    await bffRoutes(bffApp, bff);
    await bffDemoRoutes(bffApp, "orders");
    await bffApp.listen({ port: bffPort, host: "127.0.0.1" });

    other = createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      if (req.url === "/logout") res.end(autoSubmit(`${bffOrigin}/bff/logout`));
      else if (req.url === "/api") res.end(autoSubmit(`${bffOrigin}/bff/api/orders/`));
      else res.end("<!doctype html><title>other</title>");
    });
    otherOrigin = `http://127.0.0.1:${await listen(other)}`;
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    bff?.close();
    guard?.close();
    await bffApp?.close();
    await new Promise<void>((r) => api?.close(() => r()));
    await new Promise<void>((r) => other?.close(() => r()));
    await s?.close();
  });

  it(
    "logs in, calls the API, refreshes silently at expiry, logs out; the old cookie is dead",
    async () => {
      const { context, page, urls } = await newPage();
      try {
        await logIn(page);
        const first = await callApi(page);
        expect(first).toMatch(/^200 in \d+ ms/);
        const alice = await s.tessera.users.require("alice");
        expect(JSON.parse(first.split("\n")[1] as string)).toMatchObject({
          sub: alice.id,
          cookie: null, // the browser's cookies never reach the API
        });
        const tokenBefore = JSON.parse(first.split("\n")[1] as string).token;

        // The access token expires (15 minutes): the next call is refreshed silently.
        s.clock.advance(15 * 60_000);
        const second = await callApi(page);
        expect(second).toMatch(/^200 in/);
        expect(JSON.parse(second.split("\n")[1] as string).token).not.toBe(tokenBefore);
        expect(bff.refreshes).toBe(1);

        // The cookies are HttpOnly: invisible to the page's JavaScript.
        expect(await visibleToScript(page)).toEqual({ cookie: "", local: "{}", session: "{}" });
        const [cookie] = (await context.cookies(bffOrigin)).filter((c) => c.name === "__Host-bff");
        expect(cookie).toMatchObject({
          httpOnly: true,
          secure: true,
          sameSite: "Strict",
          path: "/",
          domain: "localhost",
        });
        // No token in any URL the browser asked for, nor in the page. The one credential a
        // URL carries is the authorization code of the callback (OAuth's design): single
        // use, bound to the BFF's PKCE verifier and secret. Replayed, it is refused.
        const callbacks = urls.filter((u) => u.startsWith(`${bffOrigin}/bff/callback?`));
        expect(callbacks).toHaveLength(1);
        const withoutCode = urls.map((u) => {
          const url = new URL(u);
          url.searchParams.delete("code");
          return url.href;
        });
        expect(withoutCode.filter((u) => TOKEN.test(u))).toEqual([]);
        const replay = await fetch(callbacks[0] as string, { redirect: "manual" });
        expect(replay.status).toBe(400);
        expect(await page.content()).not.toMatch(TOKEN);

        await page.screenshot({ path: new URL("bff-desktop.png", SHOTS).pathname, fullPage: true });
        await page.setViewportSize({ width: 390, height: 844 });
        await page.screenshot({ path: new URL("bff-phone.png", SHOTS).pathname, fullPage: true });
        await page.setViewportSize({ width: 1280, height: 720 });

        // Log out with the form: back on the page, signed out; the old cookie is refused.
        await page.getByRole("button", { name: "Log out" }).click();
        await page.getByRole("status").getByText("Not signed in.").waitFor();
        const old = await fetch(`${bffOrigin}/bff/user`, {
          headers: { cookie: `__Host-bff=${cookie?.value}` },
        });
        expect(old.status).toBe(401);
        const oldApi = await fetch(`${bffOrigin}/bff/api/orders/`, {
          headers: { cookie: `__Host-bff=${cookie?.value}`, "x-csrf": "1" },
        });
        expect(oldApi.status).toBe(401);
      } finally {
        await context.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a page on another site cannot make a state-changing request that carries the cookie",
    async () => {
      const { context, page } = await newPage();
      try {
        await logIn(page);
        for (const path of ["/logout", "/api"]) {
          bffHits.length = 0;
          const attacker = await context.newPage();
          await attacker.goto(`${otherOrigin}${path}`);
          await attacker.waitForLoadState("load");
          await attacker.waitForURL((u) => u.origin === bffOrigin || u.href.includes("bff"), {
            timeout: STEP_TIMEOUT_MS,
          });
          const posts = bffHits.filter((h) => h.method === "POST");
          expect(posts.length, path).toBeGreaterThan(0);
          // SameSite=Strict: the cookie does not ride a cross-site post (and the BFF would
          // refuse it anyway: 403 forbidden_origin).
          expect(
            posts.every((h) => !h.cookie),
            path,
          ).toBe(true);
          await attacker.close();
        }
        // Still signed in.
        await page.reload();
        await page.getByRole("status").getByText("Signed in.").waitFor();
      } finally {
        await context.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "screenshots of the main pages at desktop and phone widths (test-results/)",
    async () => {
      const { context, page } = await newPage();
      try {
        const pages = {
          "tessera-home": `${tesseraOrigin}/`,
          "tessera-guide": `${tesseraOrigin}/guide`,
          "bff-signed-out": `${bffOrigin}/`,
        };
        for (const [name, url] of Object.entries(pages)) {
          for (const [width, height, suffix] of [
            [1280, 720, "desktop"],
            [390, 844, "phone"],
          ] as const) {
            await page.setViewportSize({ width, height });
            const res = await page.goto(url);
            expect(res?.status(), url).toBe(200);
            const path = new URL(`${name}-${suffix}.png`, SHOTS).pathname;
            await page.screenshot({ path, fullPage: true });
          }
        }
        await page.goto(`${tesseraOrigin}/guide`);
        await page
          .getByRole("table", { name: "The four ways to identify a caller after login" })
          .waitFor();
      } finally {
        await context.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "the demo page runs under its CSP (no unsafe-inline) and works at phone width",
    async () => {
      const { context, page } = await newPage();
      const violations: string[] = [];
      page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      try {
        const res = await page.goto(`${bffOrigin}/`);
        expect(res?.headers()["content-security-policy"]).toMatch(/script-src 'self'/);
        expect(res?.headers()["content-security-policy"]).not.toMatch(/unsafe-inline/);
        await page.getByRole("status").getByText("Not signed in.").waitFor();
        await page.setViewportSize({ width: 390, height: 844 });
        const overflow = await page.evaluate(
          "document.documentElement.scrollWidth > document.documentElement.clientWidth",
        );
        expect(overflow).toBe(false);
        expect(violations).toEqual([]);
      } finally {
        await context.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
