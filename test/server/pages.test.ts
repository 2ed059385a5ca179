import { afterEach, describe, expect, it } from "vitest";
import { type TestServer, testServer } from "../support/harness.js";

let s: TestServer;
afterEach(async () => s?.close());

/** The `<input …>` tag named `name` in `html` (the test fails if there is none). */
function input(html: string, name: string): string {
  const tag = new RegExp(`<input[^>]*\\bname="${name}"[^>]*>`).exec(html)?.[0];
  expect(tag, `an input named ${name}`).toBeDefined();
  return tag as string;
}

describe("the sign-in pages (ASVS 6.2.6, 6.2.7)", () => {
  it("the sign-in form masks the password and lets password managers fill and paste it", async () => {
    s = await testServer();
    const home = await s.app.inject({ url: "/" });
    const again = await s.app.inject({
      method: "POST",
      url: "/login",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      payload: "username=alice&password=not-the-password",
    });
    expect(again.body).toContain('role="alert"');
    for (const html of [home.body, again.body]) {
      const password = input(html, "password");
      expect(password).toContain('type="password"');
      // Password managers fill the pair; nothing turns them off or blocks pasting.
      expect(password).toContain('autocomplete="current-password"');
      expect(input(html, "username")).toContain('autocomplete="username"');
      expect(html).not.toMatch(/autocomplete="off"|onpaste|oncopy|ondrop|<script/i);
    }
  });
});
