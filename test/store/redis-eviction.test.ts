/**
 * An evicting Redis silently loses sessions and denylist entries: the store refuses one
 * at connect (and `serve` exits 2) unless the operator overrides it, with a warning.
 * Against a redis-server of this test's own, so the shared one keeps its policy.
 */
import type { ChildProcess } from "node:child_process";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { TesseraError } from "../../src/errors.js";
import {
  checkEvictionPolicy,
  type PolicySource,
  readEvictionPolicy,
} from "../../src/store/redis/eviction.js";
import { RedisStore } from "../../src/store/redis/index.js";
import { runCli, startServer, stopAllServers, tempDataDir } from "../support/process.js";
import { describeRedis } from "../support/redis.js";
import { startOwnRedis, stopRedis } from "../support/redis-server.js";

/** An ioredis-like ReplyError (a refusal by the server). */
function refusal(message: string): Error {
  const err = new Error(message);
  err.name = "ReplyError";
  return err;
}

function source(info: () => Promise<string>, config: () => Promise<unknown>): PolicySource {
  return { info, config };
}

describe("reading the eviction policy", () => {
  const INFO =
    "# Memory\r\nused_memory:1\r\nmaxmemory_policy:volatile-lru\r\nmem_fragmentation_ratio:1\r\n";

  it("from INFO memory (works where CONFIG is disabled)", async () => {
    const config = vi.fn(async () => ["maxmemory-policy", "noeviction"]);
    expect(await readEvictionPolicy(source(async () => INFO, config))).toBe("volatile-lru");
    expect(config).not.toHaveBeenCalled();
  });

  it("from CONFIG GET when INFO is refused; undefined when both are", async () => {
    const noInfo = async () => Promise.reject(refusal("NOPERM this user has no permissions"));
    const configOk = async () => ["maxmemory-policy", "allkeys-lru"];
    expect(await readEvictionPolicy(source(noInfo, configOk))).toBe("allkeys-lru");
    const noConfig = async () => Promise.reject(refusal("ERR unknown command 'config'"));
    expect(await readEvictionPolicy(source(noInfo, noConfig))).toBeUndefined();
    // An INFO without the field counts as no answer too.
    expect(await readEvictionPolicy(source(async () => "# Memory\r\n", noConfig))).toBeUndefined();
  });

  it("a lost connection is not a refusal: it is thrown", async () => {
    const lost = async () => Promise.reject(new Error("Connection is closed."));
    await expect(readEvictionPolicy(source(lost, lost))).rejects.toThrow("Connection is closed.");
  });

  it("only noeviction passes; anything else is config_invalid unless allowed (then a warning)", () => {
    expect(checkEvictionPolicy("noeviction", false, "redis.example:6379")).toBeUndefined();
    expect(checkEvictionPolicy("noeviction", true, "redis.example:6379")).toBeUndefined();
    for (const policy of ["allkeys-lru", "volatile-ttl", "allkeys-random", undefined]) {
      let err: unknown;
      try {
        checkEvictionPolicy(policy, false, "redis.example:6379");
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(TesseraError);
      expect(err).toMatchObject({ code: "config_invalid" });
      const message = (err as Error).message;
      expect(message).toContain("redis.example:6379");
      expect(message).toContain("--redis-allow-eviction (TESSERA_REDIS_ALLOW_EVICTION=true)");
      expect(message).toContain(policy ?? "could not be read");
      if (policy !== undefined) {
        expect(message).toContain("CONFIG SET maxmemory-policy noeviction");
        expect(message).toContain("redis.conf");
      }
      const warning = checkEvictionPolicy(policy, true, "redis.example:6379");
      expect(warning).toContain(policy ?? "could not be read");
      expect(warning).toContain("Starting anyway because of --redis-allow-eviction");
    }
  });
});

describeRedis("an evicting Redis (a redis-server of this test's own)", () => {
  let server: { child: ChildProcess; url: string } | undefined;
  let admin: Redis;
  let url: string;
  const clock = new ManualClock();

  beforeAll(async () => {
    server = await startOwnRedis(["--maxmemory-policy", "allkeys-lru"]);
    url = server.url;
    admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
    // Users that cannot run INFO (so CONFIG GET is the fallback), or either.
    await admin.call("ACL", "SETUSER", "noinfo", "on", ">pw", "~*", "&*", "+@all", "-info");
    await admin.call(
      "ACL",
      "SETUSER",
      "blind",
      "on",
      ">pw",
      "~*",
      "&*",
      "+@all",
      "-info",
      "-config",
    );
  });

  afterAll(async () => {
    await stopAllServers();
    admin?.disconnect();
    if (server !== undefined) await stopRedis(server.child);
  });

  const withUser = (user: string) => url.replace("redis://", `redis://${user}:pw@`);

  it("connect refuses it: config_invalid naming the policy and the fix", async () => {
    const err = await RedisStore.connect({ url, clock }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TesseraError);
    expect(err).toMatchObject({ code: "config_invalid" });
    expect((err as Error).message).toMatch(/has maxmemory-policy allkeys-lru.*Refusing to start/);
  });

  it("allowEviction lets it through with a warning", async () => {
    const onWarning = vi.fn();
    const store = await RedisStore.connect({ url, clock, allowEviction: true, onWarning });
    try {
      await store.ping();
      expect(onWarning).toHaveBeenCalledTimes(1);
      expect(onWarning.mock.calls[0]?.[0]).toContain("allkeys-lru");
    } finally {
      await store.close();
    }
  });

  it("INFO refused: the policy comes from CONFIG GET; both refused: refused unless allowed", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {}); // ioredis's ready check
    try {
      const noInfo = await RedisStore.connect({ url: withUser("noinfo"), clock }).catch((e) => e);
      expect((noInfo as Error).message).toContain("has maxmemory-policy allkeys-lru");
      const blind = await RedisStore.connect({ url: withUser("blind"), clock }).catch((e) => e);
      expect(blind).toMatchObject({ code: "config_invalid" });
      expect((blind as Error).message).toContain("could not be read");
      expect((blind as Error).message).not.toContain(":pw@");
      const onWarning = vi.fn();
      const store = await RedisStore.connect({
        url: withUser("blind"),
        clock,
        allowEviction: true,
        onWarning,
      });
      await store.close();
      expect(onWarning.mock.calls[0]?.[0]).toContain("could not be read");
    } finally {
      warn.mockRestore();
    }
  });

  it("tessera serve exits 2 with the message; --redis-allow-eviction starts it with a warning", async () => {
    const data = tempDataDir();
    const refused = await runCli(["serve", "--port", "0", "--data", data, "--redis", url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("has maxmemory-policy allkeys-lru");
    expect(refused.stderr).toContain("CONFIG SET maxmemory-policy noeviction");
    expect(refused.stderr).toContain("--redis-allow-eviction");
    expect(refused.stderr).toContain("(config_invalid)");
    expect(refused.stdout).not.toContain("listening");

    const started = await startServer(["--data", data, "--redis", url, "--redis-allow-eviction"]);
    // stderr and stdout are two pipes: the warning may arrive after the listening line.
    await vi.waitFor(() =>
      expect(started.stderr()).toMatch(/^WARNING: Redis at .* has maxmemory-policy allkeys-lru/m),
    );
    await started.stop();
    const fromEnv = await startServer(["--data", data, "--redis", url], {
      TESSERA_REDIS_ALLOW_EVICTION: "true",
    });
    await vi.waitFor(() => expect(fromEnv.stderr()).toContain("WARNING: Redis at"));
    await fromEnv.stop();
  }, 60_000);

  it("once the policy is noeviction, connect accepts it without a warning", async () => {
    await admin.config("SET", "maxmemory-policy", "noeviction");
    try {
      const onWarning = vi.fn();
      const store = await RedisStore.connect({ url, clock, onWarning });
      await store.close();
      expect(onWarning).not.toHaveBeenCalled();
    } finally {
      await admin.config("SET", "maxmemory-policy", "allkeys-lru");
    }
  });
});
