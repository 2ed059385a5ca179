import { type ChildProcess, spawn } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { bffOptionsFrom } from "../../src/cli/commands/bff.js";
import { CLI_PATH, childEnv } from "../support/process.js";
import { type Fixture, fixture } from "./support.js";

let f: Fixture | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGTERM");
  await f?.close();
  f = undefined;
});

const ARGS = ["--issuer", "http://localhost:4000", "--client-id", "spa"];

describe("tessera bff: flags", () => {
  it("takes repeated --upstream NAME=URL, the limits, and TESSERA_BFF_* (flags win)", () => {
    const { options, port } = bffOptionsFrom(
      [
        ...ARGS,
        "--upstream",
        "orders=http://a/",
        "--upstream=users=http://b/v2/",
        "--body-limit",
        "2048",
      ],
      { TESSERA_BFF_PORT: "6000", TESSERA_BFF_SESSION_TTL: "600", TESSERA_BFF_CLIENT_ID: "x" },
    );
    expect(options.upstreams).toEqual({ orders: "http://a/", users: "http://b/v2/" });
    expect(options.bodyLimit).toBe(2048);
    expect(options.sessionTtl).toBe(600);
    expect(options.clientId).toBe("spa");
    expect(port).toBe(6000);
    expect(options.publicUrl).toBe("http://localhost:6000");
  });

  it("refuses unknown flags, a missing issuer, a repeated upstream name and a non-number", () => {
    expect(() => bffOptionsFrom([...ARGS, "--nope", "1"], {})).toThrow(/unknown option --nope/);
    expect(() => bffOptionsFrom(["--client-id", "spa"], {})).toThrow(/--issuer is required/);
    expect(() =>
      bffOptionsFrom([...ARGS, "--upstream", "a=http://x/", "--upstream", "a=http://y/"], {}),
    ).toThrow(/given twice/);
    expect(() => bffOptionsFrom([...ARGS, "--session-ttl", "1h"], {})).toThrow(/whole number/);
    expect(() => bffOptionsFrom([...ARGS, "--upstream", "nourl"], {})).toThrow(/NAME=URL/);
  });
});

describe("tessera bff: the process", () => {
  it("exits 2 naming what is wrong when the secret is missing", async () => {
    const child = spawn(process.execPath, [CLI_PATH, "bff", ...ARGS, "--upstream", "a=http://x/"], {
      env: childEnv(),
    });
    children.push(child);
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += String(d);
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(2);
    expect(stderr).toMatch(/client secret is required/);
  });

  it("serves the BFF: /bff/login redirects to Tessera, /bff/user is 401 without a session", async () => {
    f = await fixture();
    const child = spawn(
      process.execPath,
      [
        CLI_PATH,
        "bff",
        "--issuer",
        f.s.config.issuer,
        "--issuer-url",
        f.base,
        "--client-id",
        "spa",
        "--upstream",
        `orders=${f.upstream}/v1/`,
        "--port",
        "0",
        "--public-url",
        "https://app.example",
        "--demo",
      ],
      { env: childEnv({ TESSERA_BFF_CLIENT_SECRET: f.secret }) },
    );
    children.push(child);
    let stdout = "";
    const base = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d) => {
        stdout += String(d);
        const m = /Tessera BFF listening on (http:\/\/[^ ]+)/.exec(stdout);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      child.on("exit", (code) => reject(new Error(`exited ${code}: ${stdout}`)));
    });
    const login = await fetch(`${base}/bff/login`, { redirect: "manual" });
    expect(login.status).toBe(302);
    expect(login.headers.get("location")).toMatch(
      new RegExp(`^${f.s.config.issuer}/oauth/authorize\\?`),
    );
    // --demo: the SPA at /, its script and stylesheet from this origin, no inline code.
    const demo = await fetch(`${base}/`);
    expect(demo.status).toBe(200);
    expect(demo.headers.get("content-security-policy")).not.toMatch(/unsafe-inline/);
    expect(await demo.text()).toContain('<script type="module" src="/demo/app.js">');
    expect(await (await fetch(`${base}/demo/app.js`)).text()).toContain('"orders"');
    const user = await fetch(`${base}/bff/user`);
    expect(user.status).toBe(401);
    expect(await user.json()).toMatchObject({ error: "unauthenticated" });
    // Unknown paths and methods: the same error format as every other answer.
    for (const [method, path] of [
      ["GET", "/nothing"],
      ["PATCH", "/bff/user"],
      ["GET", "/bff/api/"],
    ]) {
      const res = await fetch(`${base}${path}`, { method });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "not_found", message: "Not found." });
    }
    // The request log at info: the answers of 400 and up, one line each; no line for the
    // successes (the 302 and the pages) and no "incoming request" lines.
    const completed = () =>
      stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { msg: string; res?: { statusCode: number } })
        .filter((l) => l.msg === "request completed" || l.msg === "incoming request");
    await expect.poll(() => completed().filter((l) => l.res?.statusCode === 404).length).toBe(3);
    expect(completed().map((l) => [l.msg, l.res?.statusCode])).toEqual([
      ["request completed", 401],
      ["request completed", 404],
      ["request completed", 404],
      ["request completed", 404],
    ]);
    expect(stdout).not.toMatch(/tsr_/);
  });
});
