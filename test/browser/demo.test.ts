/**
 * The demo `npm start` serves (`tessera serve --demo`), in a real browser (Debian's
 * Chromium, headless, playwright-core), against a real server process: sign in with and
 * without JavaScript, "who am I, four ways", "revoke" and its measured refusal, the BFF's
 * single-page app on the same server, and screenshots of the main pages at desktop and
 * phone widths under test-results/ (docs/images/demo.png is one of them).
 *
 * Skipped with a warning without /usr/bin/chromium; fails with TESSERA_REQUIRE_CHROMIUM=1.
 */
import { mkdirSync } from "node:fs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeChromium, launchChromium } from "../support/chromium.js";
import {
  removeTempDirs,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

const STEP_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 90_000;
const SHOTS = new URL("../../test-results/", import.meta.url);
/** Anything shaped like a Tessera token (JWT or secret token). */
const TOKEN = /eyJ[A-Za-z0-9_-]{10,}\.|tsr_[A-Za-z0-9_-]{20,}/;
const PANELS = ["1. Session cookie", "2. JWT access token", "3. Opaque token", "4. The BFF"];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser: Browser;
let tessera: ServerProcess;
let base: string;
let password: string;

interface Visit {
  context: BrowserContext;
  page: Page;
  /** Every URL the browser requested. */
  urls: string[];
  /** Console messages about the Content-Security-Policy (violations). */
  violations: string[];
}

async function visit(javaScriptEnabled: boolean): Promise<Visit> {
  const context = await browser.newContext({ javaScriptEnabled, viewport: DESKTOP });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const urls: string[] = [];
  const violations: string[] = [];
  page.on("request", (r) => urls.push(r.url()));
  page.on("console", (m) => {
    if (/Content.Security.Policy/i.test(m.text())) violations.push(m.text());
  });
  return { context, page, urls, violations };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: new URL(`${name}.png`, SHOTS).pathname, fullPage: true });

/** From /demo (sent to the sign-in page), signs in with the form, back to the four ways. */
async function signInThroughDemo(page: Page): Promise<void> {
  await page.goto(`${base}/demo`);
  expect(page.url()).toBe(`${base}/`);
  await page.getByLabel("Username").fill("demo");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("Signed in as").waitFor();
  await page.getByRole("link", { name: "Who am I, four ways" }).first().click();
  await page.waitForURL(`${base}/demo`);
  for (const name of PANELS) await page.getByRole("heading", { name }).waitFor();
}

/** What a page's JavaScript can see of credentials: cookies and both storages. */
function visibleToScript(page: Page) {
  return page.evaluate(
    "({ cookie: document.cookie, local: JSON.stringify({ ...localStorage }), session: JSON.stringify({ ...sessionStorage }) })",
  );
}

/** No request URL carried a token (the BFF callback's one-time code aside). */
function expectNoTokenInUrls(urls: string[]): void {
  const carrying = urls.filter((u) => !u.includes("/bff/callback?") && TOKEN.test(u));
  expect(carrying).toEqual([]);
}

describeChromium("the demo npm start serves, in a real browser", () => {
  beforeAll(async () => {
    tessera = await startServer(["--data", tempDataDir(), "--demo"]);
    base = `http://localhost:${tessera.port}`;
    const printed = /password "([^"]+)"/.exec(tessera.stdout());
    if (printed === null) throw new Error(`no demo password printed:\n${tessera.stdout()}`);
    password = printed[1] as string;
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stopAllServers();
    removeTempDirs();
  });

  it(
    "without JavaScript: signs in, shows the four panels, revokes and shows the refusal with the time",
    async () => {
      const { context, page, urls, violations } = await visit(false);
      try {
        await signInThroughDemo(page);
        const main = page.locator("main");
        expect(await main.textContent()).toContain('"typ": "at+jwt"');
        expect(await main.textContent()).toContain('"active": true');
        expect(await page.locator(".ok").count()).toBe(2);
        await shot(page, "demo-four-ways-desktop");

        await page.getByRole("button", { name: "Revoke the JWT and the opaque token" }).click();
        const table = page.getByRole("table", {
          name: "The demo API before and after the revocation",
        });
        await table.waitFor();
        const rows = table.locator("tbody tr");
        expect(await rows.count()).toBe(2);
        for (const text of await rows.allTextContents()) {
          expect(text).toContain("200 accepted");
          expect(text).toContain("401 refused invalid_token");
          expect(text).toMatch(/\d+\.\d ms after the revocation was acknowledged/);
        }
        expect(await main.textContent()).toContain('"active": false');
        await shot(page, "demo-revoked-desktop");
        await page.setViewportSize(PHONE);
        await shot(page, "demo-revoked-phone");

        // New tokens, accepted again.
        await page.getByRole("button", { name: "Issue new tokens" }).click();
        await page.getByRole("button", { name: "Revoke the JWT and the opaque token" }).waitFor();
        expect(await page.locator(".ok").count()).toBe(2);

        expect(await main.textContent()).not.toMatch(TOKEN);
        expect(await page.content()).not.toMatch(TOKEN);
        expectNoTokenInUrls(urls);
        expect(violations).toEqual([]);
      } finally {
        await context.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "with JavaScript: the four ways, then the BFF app logs in and calls the API; no token reaches script or URL",
    async () => {
      const { context, page, urls, violations } = await visit(true);
      try {
        await signInThroughDemo(page);
        expect(await visibleToScript(page)).toEqual({ cookie: "", local: "{}", session: "{}" });

        await page.getByRole("link", { name: "Open the BFF app" }).click();
        await page.waitForURL(`${base}/demo/spa`);
        await page.getByRole("status").getByText("Not signed in.").waitFor();
        await page.getByRole("link", { name: "Log in" }).click();
        // Signed in at Tessera already, and the BFF is first-party: straight back.
        await page.waitForURL(`${base}/demo/spa`);
        await page.getByRole("status").getByText("Signed in.").waitFor();
        await page.getByRole("button", { name: "Call the API" }).click();
        const answer = page.locator("#answer").filter({ hasText: /^\d{3} in/ });
        await answer.waitFor();
        const text = (await answer.textContent()) ?? "";
        expect(text).toMatch(/^200 in \d+ ms/);
        expect(JSON.parse(text.split("\n")[1] as string)).toMatchObject({
          client_id: "tessera-demo-bff",
          credential: "jwt",
        });
        await shot(page, "demo-bff-desktop");
        expect(await visibleToScript(page)).toEqual({ cookie: "", local: "{}", session: "{}" });
        const cookies = await context.cookies(base);
        for (const c of cookies) expect(c.httpOnly, c.name).toBe(true);
        // The BFF's login nonce stays until it expires (a login in another tab may need it).
        expect(cookies.map((c) => c.name).sort()).toEqual([
          "__Host-bff",
          "__Host-bff-login",
          "__Host-session",
        ]);
        expectNoTokenInUrls(urls);
        expect(violations).toEqual([]);
      } finally {
        await context.close();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "screenshots of the main pages at desktop and phone widths, none wider than the screen",
    async () => {
      const { context, page, violations } = await visit(true);
      try {
        await signInThroughDemo(page);
        const pages = {
          home: "/",
          demo: "/demo",
          "demo-spa": "/demo/spa",
          account: "/account",
          guide: "/guide",
        };
        for (const [name, path] of Object.entries(pages)) {
          for (const [size, suffix] of [
            [DESKTOP, "desktop"],
            [PHONE, "phone"],
          ] as const) {
            await page.setViewportSize(size);
            const res = await page.goto(`${base}${path}`);
            expect(res?.status(), path).toBe(200);
            expect(res?.headers()["content-security-policy"], path).not.toMatch(/unsafe-inline/);
            const overflow = await page.evaluate(
              "document.documentElement.scrollWidth > document.documentElement.clientWidth",
            );
            expect(overflow, `${path} at ${size.width} px`).toBe(false);
            await shot(page, `demo-page-${name}-${suffix}`);
          }
        }
        // The four panels side by side on a desktop, one column on a phone.
        const lefts = async () =>
          new Set(
            await page
              .locator(".panels > section")
              .evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().left))),
          ).size;
        await page.goto(`${base}/demo`);
        await page.setViewportSize(DESKTOP);
        expect(await lefts()).toBe(4);
        await page.setViewportSize(PHONE);
        expect(await lefts()).toBe(1);
        expect(violations).toEqual([]);
      } finally {
        await context.close();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
