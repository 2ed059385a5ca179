import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/load.js";
import { describeData, locateData, redactUrl } from "../../src/installation/location.js";

const where = (flags: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  describeData(locateData(loadConfig(flags, env)));
/** Relative paths are resolved against the working directory. */
const cwd = process.cwd();

describe("the line naming the data in use", () => {
  it("names the data directory, resolved against the working directory", () => {
    expect(where({})).toBe(`${cwd}/.tessera (sqlite)`);
    expect(where({ data: "../state" })).toBe(`${resolve(cwd, "../state")} (sqlite)`);
    expect(where({}, { TESSERA_DATA: "/var/lib/tessera" })).toBe("/var/lib/tessera (sqlite)");
  });

  it("takes a % in the data directory as a character (it crashed the CLI with a URIError)", () => {
    expect(where({ data: "/srv/50%off" })).toBe("/srv/50%off (sqlite)");
    expect(where({ data: "/srv/a%2Fb" })).toBe("/srv/a%2Fb (sqlite)");
    expect(() => where({ db: "sqlite:/srv/50%off.db" })).toThrow(
      expect.objectContaining({ code: "config_invalid", message: expect.stringContaining("%25") }),
    );
    expect(where({ db: "sqlite:/srv/50%25off.db", data: "/d" })).toBe(
      "/srv/50%off.db (sqlite; secret.key in /d)",
    );
  });

  it("names a database outside the data directory, and where the secret is", () => {
    expect(where({ db: "sqlite:///db/auth.db" })).toBe(
      `/db/auth.db (sqlite; secret.key in ${cwd}/.tessera)`,
    );
    expect(where({ db: "sqlite:rel.db", data: "/d" })).toBe(
      `${cwd}/rel.db (sqlite; secret.key in /d)`,
    );
    expect(where({}, { TESSERA_SECRET: "x".repeat(40) })).toBe(
      `${cwd}/.tessera (sqlite; secret from TESSERA_SECRET)`,
    );
    expect(where({ db: "memory:" })).toBe("memory (memory; this process only)");
  });

  it("never prints a password: the Redis URL's is hidden, the secret named only", () => {
    const line = where(
      { redis: "redis://app:hunter2hunter2@cache.internal:6380/2", redisPrefix: "blue:" },
      { TESSERA_SECRET: "s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t" },
    );
    expect(line).toBe(
      `${cwd}/.tessera (sqlite; secret from TESSERA_SECRET; sessions and tokens in ` +
        "redis://app:***@cache.internal:6380/2 (prefix blue:))",
    );
    expect(line).not.toContain("hunter2");
    expect(line).not.toContain("s3cr3t");
  });
});

describe("redactUrl", () => {
  it("hides the password and secret-looking query values, keeps the rest", () => {
    expect(redactUrl("postgres://tessera:p%40ss@db:5432/auth?sslmode=require")).toBe(
      "postgres://tessera:***@db:5432/auth?sslmode=require",
    );
    expect(redactUrl("postgres://db/auth?user=t&password=pw&sslkey=/k")).toBe(
      "postgres://db/auth?user=t&password=***&sslkey=***",
    );
    expect(redactUrl("rediss://:only-a-password@h:6379")).toBe("rediss://:***@h:6379");
    expect(redactUrl("redis://h:6379")).toBe("redis://h:6379");
  });

  it("shows only the scheme of something that does not parse", () => {
    expect(redactUrl("postgres://user:pw@[bad")).toBe("postgres:…");
    expect(redactUrl("no url at all")).toBe("(not a URL)");
  });
});
