/**
 * `tessera audit`: what admin commands did lands in the trail with the actor `cli`, read
 * back newest first as a table or JSON lines, filtered by user, client, type and window;
 * an unknown type, a bad duration or limit is refused with exit 2 before any store is
 * opened (the real binary, for the exit codes).
 */
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as runCliInProcess } from "../../src/cli/run.js";
import { removeTempDirs, runCli, tempDataDir } from "../support/process.js";

const PASSWORD = "Saffron-Glacier-Pillow-81";

async function cli(
  args: string[],
  stdin?: string,
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCliInProcess(args, {
    env: {},
    stdin: Readable.from(stdin === undefined ? [] : [stdin]),
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out, err };
}

afterAll(() => removeTempDirs());

describe("tessera audit", () => {
  let data: string;
  const d = (...args: string[]) => [...args, "--data", data];
  const secrets: string[] = [PASSWORD];

  beforeAll(async () => {
    data = tempDataDir();
    expect(
      (await cli(d("user", "add", "alice", "--password-stdin", "--init"), PASSWORD)).code,
    ).toBe(0);
    await cli(d("user", "add", "bob", "--password-stdin"), PASSWORD);
    await cli(d("user", "disable", "alice"));
    await cli(d("user", "enable", "alice"));
    const added = await cli(
      d("client", "add", "svc", "--grants", "client_credentials", "--audience", "https://api"),
    );
    const rotated = await cli(d("client", "rotate-secret", "svc"));
    for (const line of [...added.out, ...rotated.out]) {
      const m = /tsr_[A-Za-z0-9_-]+/.exec(line);
      if (m !== null) secrets.push(m[0]);
    }
    expect(secrets).toHaveLength(3);
    expect((await cli(d("keys", "rotate"))).code).toBe(0);
  }, 60_000);

  it("--json: one record per line, newest first, every admin command's event by `cli`", async () => {
    const res = await cli(d("audit", "--json"));
    expect(res.code).toBe(0);
    const records = res.out.map((l) => JSON.parse(l));
    expect(records.map((r) => `${r.type} by ${r.actor}`)).toEqual([
      "key_rotated by cli",
      "client_secret_rotated by cli",
      "client_added by cli",
      "user_enabled by cli",
      "session_ended by cli",
      "user_disabled by cli",
      "user_added by cli",
      "user_added by cli",
    ]);
    expect(records[6]).toMatchObject({ details: { username: "bob" } });
    expect(records[4]).toMatchObject({ reason: "disabled" });
    const text = res.out.join("\n");
    for (const secret of secrets) expect(text).not.toContain(secret);
  });

  it("filters: --user (a name), --client, --type, --since, --limit", async () => {
    const types = async (...args: string[]) =>
      (await cli(d("audit", "--json", ...args))).out.map((l) => JSON.parse(l).type);
    expect(await types("--user", "alice")).toEqual([
      "user_enabled",
      "session_ended",
      "user_disabled",
      "user_added",
    ]);
    expect(await types("--client", "svc")).toEqual(["client_secret_rotated", "client_added"]);
    expect(await types("--type", "user_added")).toEqual(["user_added", "user_added"]);
    expect(await types("--since", "1h", "--limit", "2")).toEqual([
      "key_rotated",
      "client_secret_rotated",
    ]);
    expect(await types("--user", "nobody")).toEqual([]);
  });

  it("a table by default: a header, then one row per record", async () => {
    const res = await cli(d("audit", "--type", "user_disabled"));
    expect(res.code).toBe(0);
    expect(res.out[0]).toBe("time\ttype\tactor\tuser\tclient\tsource\treason\tdetails");
    expect(res.out).toHaveLength(2);
    expect(res.out[1]).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z\tuser_disabled\tcli\t[A-Za-z0-9_-]{22}\t-\t-\t-\t-$/,
    );
  });

  it("an unknown type, a bad duration or limit: a clear error, exit 2, before any store is opened", async () => {
    const empty = tempDataDir(); // no installation here: the arguments are refused first
    const cases: Array<[string[], RegExp]> = [
      [["--type", "nope"], /unknown audit event type "nope"; one of login_succeeded, /],
      [["--since", "5x"], /--since needs a duration such as 90s, 15m, 1h, 7d or 2w/],
      [["--since", "1.5h"], /--since needs a duration/],
      [["--limit", "0"], /--limit must be a whole number from 1 to 1000/],
      [["--limit", "1001"], /--limit must be a whole number from 1 to 1000/],
      [["--typo", "x"], /unknown option --typo/],
      [["extra"], /too many arguments for audit/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(["audit", ...args, "--data", empty]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(message);
      expect(res.stderr).not.toMatch(/installation_not_found/);
    }
  }, 60_000);
});
