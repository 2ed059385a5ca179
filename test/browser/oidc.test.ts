/**
 * OpenID Connect in a real browser (Chromium, headless, playwright-core) against a real
 * `tessera serve --demo`: a relying party written with openid-client (nobody here wrote
 * that library) on another site asks with `response_mode=form_post` (express-openid-
 * connect's default); the user signs in, consents, and Tessera's form_post page — under
 * its strict CSP — POSTs the code to the relying party, which validates the ID token and
 * greets the user by name. Then RP-initiated logout ends the Tessera session, sends the
 * browser back, and the back-channel tells the relying party.
 *
 * Skipped with a warning when /usr/bin/chromium is absent (TESSERA_REQUIRE_CHROMIUM=1: fail).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as oidc from "openid-client";
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

let browser: Browser;
let context: BrowserContext | undefined;
let tessera: ServerProcess;
let base: string;
let demoPassword: string;
let rp: Server;
let rpOrigin: string;
let config: oidc.Configuration;
/** The relying party's one login in progress, and what it learnt. */
const pending: { verifier?: string; state?: string; nonce?: string } = {};
let idToken: string | undefined;
let greeting: string | undefined;
const logoutTokens: string[] = [];
const errors: string[] = [];

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (c) => {
      data += c;
    });
    req.on("end", () => resolve(data));
  });
}

/** The relying party: /login, /callback (form_post), /logout, /signed-out, /backchannel. */
async function relyingParty(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", rpOrigin);
  const html = (text: string) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html><body><p id="msg">${text}</p></body></html>`);
  };
  try {
    if (url.pathname === "/login") {
      pending.verifier = oidc.randomPKCECodeVerifier();
      pending.state = oidc.randomState();
      pending.nonce = oidc.randomNonce();
      const to = oidc.buildAuthorizationUrl(config, {
        redirect_uri: `${rpOrigin}/callback`,
        scope: "openid profile email",
        response_mode: "form_post",
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: "S256",
      });
      res.writeHead(302, { location: to.href }).end();
    } else if (url.pathname === "/callback" && req.method === "POST") {
      const form = await body(req);
      const request = new Request(url, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form,
      });
      const tokens = await oidc.authorizationCodeGrant(config, request, {
        pkceCodeVerifier: pending.verifier as string,
        expectedState: pending.state as string,
        expectedNonce: pending.nonce as string,
        idTokenExpected: true,
      });
      idToken = tokens.id_token;
      greeting = `Hello ${String(tokens.claims()?.name)}`;
      html(greeting);
    } else if (url.pathname === "/logout") {
      const to = oidc.buildEndSessionUrl(config, {
        id_token_hint: idToken as string,
        post_logout_redirect_uri: `${rpOrigin}/signed-out`,
        state: "bye",
      });
      res.writeHead(302, { location: to.href }).end();
    } else if (url.pathname === "/signed-out") {
      html(`Signed out (${url.searchParams.get("state")})`);
    } else if (url.pathname === "/backchannel" && req.method === "POST") {
      logoutTokens.push(new URLSearchParams(await body(req)).get("logout_token") ?? "");
      res.writeHead(200).end();
    } else {
      res.writeHead(404).end();
    }
  } catch (err) {
    errors.push(String(err));
    res.writeHead(500).end(String(err));
  }
}

describeChromium("OpenID Connect in a real browser (Chromium)", () => {
  beforeAll(async () => {
    rp = createServer((req, res) => void relyingParty(req, res));
    await new Promise<void>((resolve) => rp.listen(0, "127.0.0.1", resolve));
    rpOrigin = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;

    const data = tempDataDir();
    const added = await runCli([
      "client",
      "add",
      "webapp",
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
      `${rpOrigin}/signed-out`,
      "--backchannel-logout-uri",
      `${rpOrigin}/backchannel`,
      "--data",
      data,
      "--init",
    ]);
    expect(added.code, added.stderr).toBe(0);
    const secret = /client_secret: (\S+)/.exec(added.stdout)?.[1] as string;
    tessera = await startServer(["--data", data, "--demo"]);
    base = `http://localhost:${tessera.port}`;
    demoPassword = /password "([^"]+)"/.exec(tessera.stdout())?.[1] as string;
    const named = await runCli(["user", "profile", "demo", "--name", "Demo User", "--data", data]);
    expect(named.code, named.stderr).toBe(0);
    config = await oidc.discovery(new URL(base), "webapp", secret, undefined, {
      execute: [oidc.allowInsecureRequests],
    });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    rp?.closeAllConnections();
    await new Promise((resolve) => (rp ? rp.close(resolve) : resolve(undefined)));
    await stopAllServers();
    removeTempDirs();
  });

  it(
    "sign in → consent → form_post to the relying party, which greets the user; RP-initiated logout ends it all",
    async () => {
      context = await browser.newContext();
      context.setDefaultTimeout(STEP_TIMEOUT_MS);
      const page = await context.newPage();
      const cspViolations: string[] = [];
      page.on("console", (m) => {
        if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
      });

      await page.goto(`${rpOrigin}/login`);
      await page.getByLabel("Username").fill("demo");
      await page.getByLabel("Password").fill(demoPassword);
      await page.getByRole("button", { name: "Sign in" }).click();
      const approve = page.getByRole("button", { name: "Approve" });
      await approve.waitFor();
      expect(await page.locator("main").textContent()).toContain("openid");

      // Approving answers with Tessera's form_post page, whose script posts to the RP.
      await Promise.all([
        page.waitForURL((u) => u.origin === rpOrigin && u.pathname === "/callback"),
        approve.click(),
      ]);
      await page.locator("#msg").waitFor();
      expect(errors).toEqual([]);
      expect(await page.locator("#msg").textContent()).toBe("Hello Demo User");
      expect(cspViolations).toEqual([]);

      // RP-initiated logout: Tessera ends the session and sends the browser back.
      await page.goto(`${rpOrigin}/logout`);
      await page.waitForURL((u) => u.origin === rpOrigin && u.pathname === "/signed-out");
      expect(await page.locator("#msg").textContent()).toBe("Signed out (bye)");
      const session = await page.goto(`${base}/session`);
      expect(session?.status()).toBe(401);
      // And the back channel told the relying party.
      await expect.poll(() => logoutTokens.length, { timeout: STEP_TIMEOUT_MS }).toBe(1);
    },
    TEST_TIMEOUT_MS,
  );
});
