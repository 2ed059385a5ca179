/**
 * `tessera client …`, `tessera keys …` and `tessera token decode` against a SQLite data
 * dir, with a real server process beside them for the end-to-end checks.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as runCliInProcess } from "../../src/cli/run.js";
import {
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCliInProcess(args, {
    env: {},
    stdin: Readable.from([]),
    out: (line) => out.push(line),
    err: () => {},
  });
  return { code, out: out.join("\n") };
}

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

describe("tessera client / keys / token decode", () => {
  let data: string;
  let server: ServerProcess;
  const d = (...args: string[]) => [...args, "--data", data];

  beforeAll(async () => {
    data = tempDataDir();
    // Reload keys every second, so a rotation by the CLI shows up promptly.
    server = await startServer(["--data", data, "--keys-reload-interval", "1"]);
  }, 30_000);
  afterAll(async () => server?.stop());

  it("client add prints the secret once; only its hash is stored; the server accepts it", async () => {
    const res = await cli(
      d(
        "client",
        "add",
        "svc",
        "--grants",
        "client_credentials",
        "--audience",
        "https://api.example.com",
        "--scopes",
        "read write",
        "--access-ttl",
        "300",
      ),
    );
    expect(res.code).toBe(0);
    const secret = /client_secret: (tsr_[\w-]{57})/.exec(res.out)?.[1] as string;
    expect(secret).toBeDefined();
    // Not in the database file (only its SHA-256 is).
    const db = readFileSync(join(data, "tessera.db"));
    expect(db.includes(Buffer.from(secret))).toBe(false);
    const token = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=client_credentials&client_id=svc&client_secret=${secret}&scope=read`,
    });
    expect(token.status).toBe(200);
    const body = (await token.json()) as {
      expires_in: number;
      scope: string;
      access_token: string;
    };
    expect(body.expires_in).toBe(300);
    expect(body.scope).toBe("read");

    // token decode shows it, unverified, without warnings for a sound token.
    const decoded = await cli(["token", "decode", body.access_token]);
    expect(decoded.code).toBe(0);
    expect(decoded.out).toMatch(/NOT VERIFIED/);
    expect(decoded.out).toMatch(/"typ": "at\+jwt"/);
    expect(decoded.out).toMatch(/"client_id": "svc"/);
    expect(decoded.out).not.toMatch(/warning:/);

    // list shows it, never the secret or its hash.
    const list = await cli(d("client", "list"));
    expect(list.out).toMatch(
      /^svc\tconfidential\tclient_credentials\tjwt\taud=https:\/\/api.example.com\tscopes=read write\tttl=300$/m,
    );
    expect(list.out).not.toContain(secret);

    // rotate-secret: the old secret dies at once.
    const rotated = await cli(d("client", "rotate-secret", "svc"));
    const fresh = /client_secret: (tsr_[\w-]{57})/.exec(rotated.out)?.[1] as string;
    expect(fresh).not.toBe(secret);
    const old = await fetch(`${server.url}/oauth/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=client_credentials&client_id=svc&client_secret=${secret}`,
    });
    expect(old.status).toBe(401);

    expect((await cli(d("client", "remove", "svc"))).code).toBe(0);
    expect((await cli(d("client", "list"))).out).toBe("");
  });

  it("client add refuses what it cannot honour, with exit 2", async () => {
    const cases: string[][] = [
      ["client", "add", "x", "--grants", "password", "--audience", "a"],
      ["client", "add", "x", "--grants", "authorization_code", "--audience", "a"],
      [
        "client",
        "add",
        "x",
        "--grants",
        "refresh_token",
        "--audience",
        "a",
        "--redirect-uri",
        "https://a/cb",
      ],
      [
        "client",
        "add",
        "x",
        "--grants",
        "authorization_code",
        "--audience",
        "a",
        "--redirect-uri",
        "http://evil.example/cb",
      ],
      ["client", "add", "x", "--grants", "client_credentials"],
      ["client", "add", "x", "--grants", "client_credentials", "--audience", "a", "--public"],
      [
        "client",
        "add",
        "x",
        "--grants",
        "client_credentials",
        "--audience",
        "a",
        "--token-format",
        "paseto",
      ],
      [
        "client",
        "add",
        "x",
        "--grants",
        "client_credentials",
        "--audience",
        "a",
        "--access-ttl",
        "999999",
      ],
      ["client", "add", "bad id!", "--grants", "client_credentials", "--audience", "a"],
      ["client", "remove", "nobody"],
    ];
    for (const args of cases) {
      const res = await runCli(d(...args));
      expect(res.code, args.join(" ")).toBe(2);
      // Refused before the store is opened, or after the line saying which data it opened.
      expect(res.stderr, args.join(" ")).toMatch(
        /^(tessera: using data in .+\n)?tessera: .+\((invalid_request|client_not_found|invalid_scope)\)\n$/,
      );
    }
  });

  it("client add for a browser app: public, first-party, fingerprint, redirect URIs", async () => {
    const res = await cli(
      d(
        "client",
        "add",
        "spa",
        "--grants",
        "authorization_code,refresh_token",
        "--audience",
        "https://api.example.com",
        "--public",
        "--first-party",
        "--fingerprint",
        "--token-format",
        "opaque",
        "--redirect-uri",
        "https://app.example.com/cb,http://localhost:5173/cb",
      ),
    );
    expect(res.code).toBe(0);
    expect(res.out).toBe("created public client spa");
    const list = await cli(d("client", "list"));
    expect(list.out).toMatch(
      /^spa\tpublic\tauthorization_code,refresh_token\topaque\t.*first-party\tfingerprint\tredirect=https:\/\/app.example.com\/cb,http:\/\/localhost:5173\/cb$/m,
    );
    expect((await cli(d("client", "remove", "spa"))).code).toBe(0);
  });

  it("keys list and rotate (publish before sign) reach the running server's JWKS", async () => {
    const before = await cli(d("keys", "list"));
    // ES256: the default for a new installation, made by its first serve.
    expect(before.out).toMatch(/\tES256\tactive\t/);
    const rotated = await cli(d("keys", "rotate", "--alg", "RS256"));
    expect(rotated.out).toMatch(/new RS256 key [\w-]{43}: published now, signs from /);
    const after = await cli(d("keys", "list"));
    expect(after.out).toMatch(/\tRS256\tpending\t/);
    expect(after.out).toMatch(/\tES256\tactive\t/);
    const kid = /new RS256 key ([\w-]{43})/.exec(rotated.out)?.[1];
    // The running server publishes the new key after its next reload (bounded poll).
    let published = false;
    for (let i = 0; i < 50 && !published; i++) {
      const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
        keys: Array<{ kid: string }>;
      };
      published = jwks.keys.some((k) => k.kid === kid);
      if (!published) await new Promise((r) => setTimeout(r, 100));
    }
    expect(published).toBe(true);
    // The key file exists with mode 0600.
    expect(statSync(join(data, "secret.key")).mode & 0o777).toBe(0o600);
    await expect(cli(d("keys", "rotate", "--alg", "HS256"))).rejects.toThrow(
      /--alg must be one of ES256, EdDSA, RS256/,
    );
  });

  it("token decode refuses garbage with exit 2", async () => {
    const res = await runCli(["token", "decode", "not-a-jwt"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/three dot-separated parts/);
  });
});
