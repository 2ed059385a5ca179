/**
 * The signing algorithm and the issuer of an installation, across real processes on one
 * `--data` directory: what a CLI command does is what a server beside it (or started
 * after it) sees.
 */
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as runCliInProcess } from "../../src/cli/run.js";
import {
  clientSecretOf,
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

const API = "https://api.example.test";
const PASSWORD = "Juniper-Lantern-Orbit-42";

afterAll(async () => {
  await stopAllServers();
  removeTempDirs();
});

/** A CLI command in this process, with an empty environment (no TESSERA_ISSUER). */
async function cli(
  args: string[],
  stdin?: string,
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCliInProcess(args, {
    env: {},
    stdin: Readable.from(stdin === undefined ? [] : [stdin]),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The algorithms of a key set, sorted (keys made in one write list in no set order). */
const algsOf = (keys: ReadonlyArray<{ alg: string }>) => keys.map((k) => k.alg).sort();

async function jwks(server: ServerProcess): Promise<Array<{ kid: string; alg: string }>> {
  const res = await fetch(`${server.url}/.well-known/jwks.json`);
  return ((await res.json()) as { keys: Array<{ kid: string; alg: string }> }).keys;
}

async function tokenAlg(server: ServerProcess, id: string, secret: string): Promise<string> {
  const res = await fetch(`${server.url}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: `grant_type=client_credentials&client_id=${id}&client_secret=${secret}`,
  });
  expect(res.status).toBe(200);
  const { access_token } = (await res.json()) as { access_token: string };
  return JSON.parse(Buffer.from(access_token.split(".")[0] as string, "base64url").toString()).alg;
}

/** The first `snapshot` event of the revocation feed. */
async function feedSnapshot(
  server: ServerProcess,
  id: string,
  secret: string,
): Promise<{ subject: Array<[string, string, number, number]> }> {
  const controller = new AbortController();
  const res = await fetch(`${server.url}/events/revocations`, {
    headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}` },
    signal: controller.signal,
  });
  expect(res.status).toBe(200);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    for (;;) {
      const m = /event: snapshot\ndata: (.*)\n\n/.exec(text);
      if (m !== null) return JSON.parse(m[1] as string);
      const { value, done } = await reader.read();
      if (done) throw new Error(`feed ended before a snapshot: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    controller.abort();
  }
}

describe("the signing algorithm is the one asked for", () => {
  it("client add --init on a fresh --data makes no key; serve --signing-alg ES256 then signs ES256 at once", async () => {
    const data = tempDataDir();
    const added = await cli([
      "client",
      "add",
      "svc",
      "--grants",
      "client_credentials",
      "--audience",
      API,
      "--data",
      data,
      "--init",
    ]);
    expect(added.code).toBe(0);
    expect(added.err).toBe(`tessera: created a new installation in ${data} (sqlite)`);
    // No command that never signs makes a signing key.
    expect((await cli(["keys", "list", "--data", data])).out).toBe(
      "kid\talg\tstate\tcreated\tsigns from\tretires\tremoved after\tsigns",
    );
    const server = await startServer(["--data", data, "--signing-alg", "ES256"]);
    // ES256 signs; beside it companions of the other algorithms sign OpenID Connect ID
    // tokens only.
    expect(algsOf(await jwks(server))).toEqual(["ES256", "EdDSA", "RS256"]);
    expect(await tokenAlg(server, "svc", clientSecretOf(added.out))).toBe("ES256");
    await server.stop();
  });

  it("serve --signing-alg ES256 on data whose key is EdDSA rotates to ES256 (publish before sign) and says so", async () => {
    const data = tempDataDir();
    const first = await startServer(["--data", data, "--signing-alg", "EdDSA"]);
    await first.stop();
    const added = await cli([
      "client",
      "add",
      "svc",
      "--grants",
      "client_credentials",
      "--audience",
      API,
      "--data",
      data,
    ]);
    const server = await startServer(["--data", data, "--signing-alg", "ES256"]);
    // Each with its companions (ID tokens), rotated together.
    expect(algsOf(await jwks(server))).toEqual([
      "ES256",
      "ES256",
      "EdDSA",
      "EdDSA",
      "RS256",
      "RS256",
    ]);
    // A log line: it may land just after the "listening" banner.
    await expect.poll(() => server.stdout(), { timeout: 5_000 }).toMatch(/asks for ES256/);
    const line =
      /signing key: the signing key is EdDSA, --signing-alg asks for ES256: new ES256 key ([\w-]{43}) published now, signs from (\S+)/.exec(
        server.stdout(),
      );
    expect(line, server.stdout()).not.toBeNull();
    // Not yet: the EdDSA key signs until every verifier's JWKS cache knows the new key.
    expect(await tokenAlg(server, "svc", clientSecretOf(added.out))).toBe("EdDSA");
    const signsFrom = Date.parse(line?.[2] as string);
    expect(signsFrom).toBeGreaterThan(Date.now() + 500_000);
    const list = (await cli(["keys", "list", "--data", data])).out;
    expect(list).toMatch(
      new RegExp(`^${line?.[1]}\\tES256\\tpending\\t\\S+\\t${line?.[2]}\\t`, "m"),
    );
    expect(list).toMatch(/\tEdDSA\tactive\t.*\taccess and id tokens$/m);
    expect(list).toMatch(/\tRS256\tpending\t.*\tid tokens$/m);
    await server.stop();

    // Restarted with the same request: no second rotation.
    const again = await startServer(["--data", data, "--signing-alg", "ES256"]);
    expect(algsOf(await jwks(again))).toEqual([
      "ES256",
      "ES256",
      "EdDSA",
      "EdDSA",
      "RS256",
      "RS256",
    ]);
    expect(again.stdout()).not.toMatch(/asks for ES256/);
    await again.stop();
  });
});

describe("one installation, one issuer", () => {
  it("user disable without TESSERA_ISSUER publishes under the issuer serve was given", async () => {
    const data = tempDataDir();
    const ISSUER = "https://auth.example.test";
    const server = await startServer(["--data", data, "--issuer", ISSUER]);
    expect(server.stdout()).toContain(`(issuer ${ISSUER})`);
    expect(
      (await cli(["user", "add", "bob", "--password-stdin", "--data", data], PASSWORD)).code,
    ).toBe(0);
    const rs = await cli([
      "client",
      "add",
      "rs",
      "--grants",
      "client_credentials",
      "--audience",
      API,
      "--introspect",
      "--data",
      data,
    ]);
    expect((await cli(["user", "disable", "bob", "--data", data])).code).toBe(0);
    const snapshot = await feedSnapshot(server, "rs", clientSecretOf(rs.out));
    expect(snapshot.subject).toHaveLength(1);
    expect(snapshot.subject[0]?.[1]).toBe(ISSUER);
    await server.stop();
  });

  it("an explicit issuer that disagrees with the recorded one: exit 2, naming both; nothing changes", async () => {
    const data = tempDataDir();
    const server = await startServer(["--data", data, "--issuer", "https://auth.example.test"]);
    await server.stop();
    const refused = await runCli(["user", "list", "--data", data], {
      env: { TESSERA_ISSUER: "http://localhost:4000" },
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /TESSERA_ISSUER is http:\/\/localhost:4000, but this installation's issuer is https:\/\/auth\.example\.test/,
    );
    const serve = await runCli(
      ["serve", "--port", "0", "--data", data, "--issuer", "https://new.example.test"],
      { timeoutMs: 10_000 },
    );
    expect(serve.code).toBe(2);
    expect(serve.stderr).toMatch(
      /--issuer is https:\/\/new\.example\.test, .*tessera serve --issuer https:\/\/new\.example\.test --change-issuer/,
    );
    expect(serve.stdout).not.toMatch(/listening/i);

    // The deliberate change, then every command follows it.
    const changed = await startServer([
      "--data",
      data,
      "--issuer",
      "https://new.example.test",
      "--change-issuer",
    ]);
    // The notice is a log line: it may land just after the "listening" banner.
    await expect
      .poll(() => changed.stdout(), { timeout: 5_000 })
      .toMatch(/issuer changed from https:\/\/auth\.example\.test to https:\/\/new\.example\.test/);
    await changed.stop();
    const later = await startServer(["--data", data]);
    expect(later.stdout()).toContain("(issuer https://new.example.test)");
    await later.stop();
  });

  it("serve on another port without --issuer keeps the recorded issuer and says so", async () => {
    const data = tempDataDir();
    const first = await startServer(["--data", data]);
    const recorded = `http://localhost:${first.port}`;
    expect(first.stdout()).toContain(`(issuer ${recorded})`);
    await first.stop();
    const second = await startServer(["--data", data]);
    expect(second.port).not.toBe(first.port);
    expect(second.stdout()).toContain(`(issuer ${recorded})`);
    await expect
      .poll(() => second.stdout(), { timeout: 5_000 })
      .toMatch(
        new RegExp(
          `issuer: ${recorded}, the issuer recorded for this installation.*derived http://localhost:${second.port}`,
        ),
      );
    const meta = await fetch(`${second.url}/.well-known/oauth-authorization-server`);
    expect(((await meta.json()) as { issuer: string }).issuer).toBe(recorded);
    await second.stop();
  });
});
