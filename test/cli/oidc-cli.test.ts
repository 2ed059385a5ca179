/**
 * The CLI registers OpenID Connect clients and users' profiles (in process, on a SQLite
 * data dir): `client add/update --oidc --id-token-alg --post-logout-redirect-uri
 * --backchannel-logout-uri`, `user add --email --email-verified --name`, `user profile`.
 */
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/run.js";
import { removeTempDirs, tempDataDir } from "../support/process.js";

const PASSWORD = "correct horse battery staple 9";

async function cli(
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, {
    env: {},
    stdin: Readable.from([stdin]),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

let data: string;
const d = (...args: string[]) => [...args, "--data", data];

beforeAll(() => {
  data = tempDataDir();
});
afterAll(() => removeTempDirs());

describe("tessera client --oidc", () => {
  it("registers an OIDC client with its ID token algorithm and logout URIs, listed", async () => {
    const add = await cli(
      d(
        "client",
        "add",
        "grafana",
        "--init",
        "--grants",
        "authorization_code,refresh_token",
        "--audience",
        "https://grafana.example.com",
        "--scopes",
        "profile email groups",
        "--redirect-uri",
        "https://grafana.example.com/login/generic_oauth",
        "--oidc",
        "--id-token-alg",
        "ES256",
        "--post-logout-redirect-uri",
        "https://grafana.example.com/login",
        "--backchannel-logout-uri",
        "https://grafana.example.com/backchannel",
      ),
    );
    expect(add.code, add.err).toBe(0);
    const list = await cli(d("client", "list"));
    expect(list.out).toContain("scopes=openid profile email groups");
    expect(list.out).toContain("oidc id_token=ES256");
    expect(list.out).toContain("post_logout=https://grafana.example.com/login");
    expect(list.out).toContain("backchannel=https://grafana.example.com/backchannel");
  });

  it("update: --id-token-alg default, --backchannel-logout-uri '' removes it, --no-oidc", async () => {
    const back = await cli(d("client", "update", "grafana", "--id-token-alg", "default"));
    expect(back.out).toContain("oidc id_token=RS256");
    const noBc = await cli(d("client", "update", "grafana", "--backchannel-logout-uri", ""));
    expect(noBc.out).not.toContain("backchannel=");
    const off = await cli(d("client", "update", "grafana", "--no-oidc"));
    expect(off.code, off.err).toBe(0);
    expect(off.out).not.toContain("oidc");
    expect(off.out).not.toContain("post_logout=");
  });

  it("refuses what makes no sense, with a clear message", async () => {
    await expect(
      cli(d("client", "add", "x1", "--grants", "client_credentials", "--audience", "a", "--oidc")),
    ).rejects.toThrow(/--oidc needs the authorization_code grant/);
    await expect(
      cli(
        d(
          "client",
          "add",
          "x2",
          "--grants",
          "authorization_code",
          "--audience",
          "a",
          "--redirect-uri",
          "https://x.example.com/cb",
          "--oidc",
          "--backchannel-logout-uri",
          "http://x.example.com/bc",
        ),
      ),
    ).rejects.toThrow(/https/);
  });
});

describe("tessera user profile", () => {
  it("user add takes the profile; user profile changes it", async () => {
    const add = await cli(
      d(
        "user",
        "add",
        "carol",
        "--password-stdin",
        "--email",
        "carol@example.com",
        "--name",
        "Carol C",
      ),
      `${PASSWORD}\n`,
    );
    expect(add.code, add.err).toBe(0);
    const verified = await cli(d("user", "profile", "carol", "--email-verified"));
    expect(verified.out).toBe("carol\temail=carol@example.com (verified)\tname=Carol C");
    const cleared = await cli(d("user", "profile", "carol", "--email", "", "--name", ""));
    expect(cleared.out).toBe("carol\temail=-\tname=-");
    await expect(cli(d("user", "profile", "carol", "--email", "nope"))).rejects.toThrow(
      /name@domain/,
    );
    await expect(cli(d("user", "profile", "carol"))).rejects.toThrow(/needs --email/);
  });
});
