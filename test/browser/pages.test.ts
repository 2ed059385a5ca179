/**
 * Tessera's own pages in a real browser: Debian's Chromium, headless, driven by
 * playwright-core, against a real `tessera serve --demo` process. HTTP-client tests cannot
 * see what a browser adds by itself (`Origin: null` under a `no-referrer` policy,
 * `Sec-Fetch-Site`, CSP `form-action` on redirects, `Secure` cookies on plain http), which
 * is what once made signing in from `/` fail with 403 forbidden_origin.
 *
 * Tessera is browsed at http://localhost:PORT (its issuer); "another site" is a small HTTP
 * server of this test on http://127.0.0.1:OTHER: the OAuth client's redirect URI, and the
 * attacker's pages with a form that posts to Tessera by itself. localhost and 127.0.0.1
 * are different sites, and Chromium treats both as potentially trustworthy, so the
 * `__Host-session` cookie (`Secure`) works on plain http without weakening it.
 *
 * Skipped with a warning when /usr/bin/chromium is absent; fails instead with
 * TESSERA_REQUIRE_CHROMIUM=1 (CI).
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { checkShape } from "../../src/crypto/token-shape.js";
import { describeChromium, launchChromium } from "../support/chromium.js";
import {
  http,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

/** Browser steps take seconds on a shared 2-core machine; a stuck one fails within this. */
const STEP_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 60_000;
const API = "https://api.example.com";

let browser: Browser;
let tessera: ServerProcess;
/** Tessera's origin as the browser sees it (the issuer's). */
let base: string;
let demoPassword: string;
let other: Server;
/** The other site's origin. */
let otherOrigin: string;
let redirectUri: string;
/** Paths the other site was asked for (the client's callback among them). */
const otherHits: string[] = [];
let context: BrowserContext | undefined;

/** An attacker's page: a form that posts `fields` to Tessera's `path` as soon as it loads. */
function autoSubmittingForm(path: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`)
    .join("");
  return `<!doctype html><html><body>
<form method="post" action="${base}${path}">${inputs}</form>
<script>document.forms[0].submit()</script>
</body></html>`;
}

/** The other site: the OAuth client's callback, and the cross-site forms. */
function otherSite(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? "/";
  otherHits.push(path);
  const send = (type: string, body: string) => {
    res.writeHead(200, { "content-type": `${type}; charset=utf-8` });
    res.end(body);
  };
  if (path === "/cross-site/login") {
    // A login CSRF: the attacker signs the victim in (here with real credentials, so
    // only the origin check stands in the way).
    send("text/html", autoSubmittingForm("/login", { username: "demo", password: demoPassword }));
  } else if (path === "/cross-site/logout") {
    send("text/html", autoSubmittingForm("/logout", {}));
  } else if (path.startsWith("/callback?")) {
    send("text/plain", "callback received");
  } else {
    res.writeHead(404).end();
  }
}

/** A fresh browser profile (its own cookie jar) and one page in it. */
async function newPage(): Promise<Page> {
  context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  return context.newPage();
}

/** The browser's `__Host-session` cookie for Tessera, if it holds one. */
async function sessionCookie(page: Page) {
  const cookies = await page.context().cookies(base);
  return cookies.find((c) => c.name === "__Host-session");
}

/** GET /session by navigating to it: the browser sends whatever cookie it holds. */
async function browserSession(page: Page): Promise<{ status: number; body: unknown }> {
  const res = await page.goto(`${base}/session`);
  if (res === null) throw new Error("no response for /session");
  return { status: res.status(), body: await res.json() };
}

/** Fills the sign-in form on the current page and submits it; returns POST /login's answer. */
async function submitSignIn(page: Page, password = demoPassword) {
  await page.getByLabel("Username").fill("demo");
  await page.getByLabel("Password").fill(password);
  const [res] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${base}/login` && r.request().method() === "POST"),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  return res;
}

/** Signs in from the home page and waits for it to greet the user. */
async function signInFromHome(page: Page): Promise<void> {
  await page.goto(`${base}/`);
  const res = await submitSignIn(page);
  expect(res.status(), await res.text().catch(() => "")).toBe(303);
  await page.getByText("Signed in as").waitFor();
}

/** An authorization request (code + PKCE S256) of `clientId`, as the client would build it. */
function authorizationRequest(clientId: string) {
  const verifier = randomBytes(32).toString("base64url");
  const state = randomBytes(16).toString("base64url");
  const query = new URLSearchParams({
    response_type: "code",
    client_id: clientId,
    redirect_uri: redirectUri,
    state,
    code_challenge: createHash("sha256").update(verifier).digest("base64url"),
    code_challenge_method: "S256",
    scope: "read",
  });
  return { url: `${base}/oauth/authorize?${query}`, verifier, state };
}

/** The browser's arrival at the client's redirect URI: checks state and iss, returns the code. */
function codeFromCallback(page: Page, state: string): string {
  const callback = new URL(page.url());
  expect(callback.origin).toBe(otherOrigin);
  expect(callback.searchParams.get("state")).toBe(state);
  expect(callback.searchParams.get("iss")).toBe(base);
  const code = callback.searchParams.get("code") as string;
  expect(checkShape(code)).toBe(true);
  expect(otherHits).toContain(`${callback.pathname}${callback.search}`);
  return code;
}

/** The client's side: exchanges the code (PKCE verifier, exact redirect URI). */
function exchangeCode(clientId: string, code: string, verifier: string): Promise<Response> {
  return fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
    }),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
}

/** Waits until the browser is at the client's redirect URI. */
function atCallback(page: Page): Promise<void> {
  return page.waitForURL((url) => url.origin === otherOrigin && url.pathname === "/callback");
}

describeChromium("Tessera's pages in a real browser (Chromium)", () => {
  beforeAll(async () => {
    other = createServer(otherSite);
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    otherOrigin = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    redirectUri = `${otherOrigin}/callback`;

    const data = tempDataDir();
    // "app" asks for consent; "first" is first-party (no consent page).
    for (const [id, extra] of [
      ["app", []],
      ["first", ["--first-party"]],
    ] as const) {
      const added = await runCli([
        "client",
        "add",
        id,
        "--public",
        "--grants",
        "authorization_code",
        "--audience",
        API,
        "--scopes",
        "read write",
        "--redirect-uri",
        redirectUri,
        "--data",
        data,
        // No server has made the installation yet: the CLI may (`--init`).
        "--init",
        ...extra,
      ]);
      expect(added.code, added.stderr).toBe(0);
    }
    tessera = await startServer(["--data", data, "--demo"]);
    base = `http://localhost:${tessera.port}`;
    const printed = /password "([^"]+)"/.exec(tessera.stdout());
    if (printed === null) throw new Error(`no demo password printed:\n${tessera.stdout()}`);
    demoPassword = printed[1] as string;
    browser = await launchChromium();
  }, 60_000);

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  afterAll(async () => {
    await browser?.close();
    other?.closeAllConnections();
    await new Promise((resolve) => (other ? other.close(resolve) : resolve(undefined)));
    await stopAllServers();
    removeTempDirs();
  });

  it(
    "signs in from / with the demo user: the page greets the user and GET /session answers 200",
    async () => {
      const page = await newPage();
      await page.goto(`${base}/`);
      const res = await submitSignIn(page);
      // Chromium posted the form from our own page: same-origin, by its own word.
      const sent = await res.request().allHeaders();
      expect(sent["sec-fetch-site"]).toBe("same-origin");
      expect(res.status(), await res.text().catch(() => "")).toBe(303);
      await page.getByText("Signed in as").waitFor();
      expect(page.url()).toBe(`${base}/`);
      expect(await page.locator("main").textContent()).toContain("Signed in as demo.");
      // The cookie is the hardened one, kept by the browser over plain http on localhost.
      expect(await sessionCookie(page)).toMatchObject({
        secure: true,
        httpOnly: true,
        sameSite: "Strict",
        path: "/",
        domain: "localhost",
      });
      const session = await browserSession(page);
      expect(session.status).toBe(200);
      expect(session.body).toMatchObject({ user: { username: "demo" } });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "signs in from / after a wrong password: the form comes back with the error (not raw JSON), then the right one works",
    async () => {
      const page = await newPage();
      await page.goto(`${base}/`);
      const wrong = await submitSignIn(page, `${demoPassword}-wrong`);
      expect(wrong.status()).toBe(401);
      expect(wrong.headers()["content-type"]).toMatch(/^text\/html/);
      await page.getByRole("alert").waitFor();
      expect(await page.getByRole("alert").textContent()).toBe("Invalid username or password.");
      expect(await sessionCookie(page)).toBeUndefined();
      const right = await submitSignIn(page);
      expect(right.status(), await right.text().catch(() => "")).toBe(303);
      await page.getByText("Signed in as").waitFor();
      expect(page.url()).toBe(`${base}/`);
      expect((await browserSession(page)).status).toBe(200);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "/oauth/authorize: sign-in page → consent page → redirect with a code that really exchanges",
    async () => {
      const page = await newPage();
      const request = authorizationRequest("app");
      await page.goto(request.url);
      expect(await page.locator("main").textContent()).toContain("Sign in to continue to app");

      const login = await submitSignIn(page);
      expect(login.status(), await login.text().catch(() => "")).toBe(303);
      const approve = page.getByRole("button", { name: "Approve" });
      await approve.waitFor();
      const consent = await page.locator("main").textContent();
      expect(consent).toContain("Signed in as demo.");
      expect(consent).toContain("The application app wants to access your account.");
      expect(consent).toContain("read");

      // The consent form's post ends, through a 303, at the client (CSP form-action allows it).
      await Promise.all([atCallback(page), approve.click()]);
      const code = codeFromCallback(page, request.state);
      expect(await page.locator("body").textContent()).toContain("callback received");

      // The code is real: the client exchanges it, once.
      const token = await exchangeCode("app", code, request.verifier);
      expect(token.status).toBe(200);
      expect(await token.json()).toMatchObject({
        access_token: expect.any(String),
        token_type: "Bearer",
        scope: "read",
      });
      expect((await exchangeCode("app", code, request.verifier)).status).toBe(400);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "/oauth/authorize of a first-party client: the sign-in form leads straight to the client",
    async () => {
      const page = await newPage();
      const request = authorizationRequest("first");
      await page.goto(request.url);
      expect(await page.locator("main").textContent()).toContain("Sign in to continue to first");
      // POST /login → 303 /oauth/authorize → 303 to the client: the whole chain of the
      // sign-in form's post, which CSP form-action must allow to end at the redirect URI.
      await Promise.all([atCallback(page), submitSignIn(page)]);
      const code = codeFromCallback(page, request.state);
      expect((await exchangeCode("first", code, request.verifier)).status).toBe(200);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "/oauth/authorize sign-in: after a wrong password, the right one still leads to the client",
    async () => {
      const page = await newPage();
      const request = authorizationRequest("first");
      await page.goto(request.url);
      const wrong = await submitSignIn(page, "not the password");
      expect(wrong.status()).toBe(401);
      // The page shown again is the sign-in form, and its policy still allows the redirect.
      await page.getByText("Invalid username or password").waitFor();
      await Promise.all([atCallback(page), submitSignIn(page)]);
      const code = codeFromCallback(page, request.state);
      expect((await exchangeCode("first", code, request.verifier)).status).toBe(200);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "signs out with the home page's button: back to the sign-in form, GET /session 401",
    async () => {
      const page = await newPage();
      await signInFromHome(page);
      const token = (await sessionCookie(page))?.value as string;
      expect(checkShape(token)).toBe(true);

      const [res] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${base}/logout`),
        page.getByRole("button", { name: "Sign out" }).click(),
      ]);
      expect(res.status()).toBe(303);
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      expect(page.url()).toBe(`${base}/`);
      expect(await page.locator("main").textContent()).not.toContain("Signed in as");
      expect(await sessionCookie(page)).toBeUndefined();
      const session = await browserSession(page);
      expect(session).toEqual({
        status: 401,
        body: expect.objectContaining({ error: "unauthenticated" }),
      });
      // Ended at the server, not only forgotten by the browser.
      expect((await http(tessera.url, "GET", "/session", { token })).status).toBe(401);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a form on another site (127.0.0.1) posting to Tessera's /login is refused: 403 forbidden_origin, no session",
    async () => {
      const page = await newPage();
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${base}/login` && r.request().method() === "POST"),
        page.goto(`${otherOrigin}/cross-site/login`),
      ]);
      const sent = await res.request().allHeaders();
      expect(sent["sec-fetch-site"]).toBe("cross-site");
      expect(res.status()).toBe(403);
      expect(await res.json()).toMatchObject({ error: "forbidden_origin" });
      expect(await res.headerValue("set-cookie")).toBeNull();
      expect(await sessionCookie(page)).toBeUndefined();
      expect((await browserSession(page)).status).toBe(401);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "a form on another site posting to /logout is refused: the signed-in session survives",
    async () => {
      const page = await newPage();
      await signInFromHome(page);
      const [res] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${base}/logout`),
        page.goto(`${otherOrigin}/cross-site/logout`),
      ]);
      expect(res.status()).toBe(403);
      expect(await res.json()).toMatchObject({ error: "forbidden_origin" });
      const session = await browserSession(page);
      expect(session.status).toBe(200);
      expect(session.body).toMatchObject({ user: { username: "demo" } });
    },
    TEST_TIMEOUT_MS,
  );
});
