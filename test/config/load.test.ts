import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../../src/config/defaults.js";
import {
  assertSafeToServe,
  assertWorkersSupported,
  isLoopbackAddress as isLoopback,
  loadConfig,
  parseFlags,
} from "../../src/config/load.js";
import type { TesseraError } from "../../src/errors.js";

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as TesseraError).code;
  }
  return undefined;
};

describe("configuration", () => {
  it("defaults come from the one defaults object", () => {
    const c = loadConfig({}, {});
    expect(c.port).toBe(SETTINGS.port.default);
    expect(c.sessionIdleTimeout).toBe(1800);
    expect(c.sessionAbsoluteTimeout).toBe(43200);
    expect(c.issuer).toBe("http://localhost:4000");
    expect(c.db).toMatch(/^sqlite:.*\.tessera[/\\]tessera\.db$/);
    expect(c.redis).toBeUndefined();
  });

  it("PostgreSQL: --db postgres:// or TESSERA_DB, a bounded pool with timeouts by default", () => {
    const url = "postgres://tessera@db.internal:5432/tessera";
    expect(loadConfig({}, { TESSERA_DB: url }).db).toBe(url);
    expect(loadConfig({ db: "postgresql://db.internal/tessera" }, {}).db).toBe(
      "postgresql://db.internal/tessera",
    );
    const c = loadConfig({}, {});
    expect([c.dbPoolSize, c.dbConnectTimeoutMs, c.dbStatementTimeoutMs]).toEqual([10, 5000, 5000]);
    expect(c.dbSchema).toBeUndefined();
    const { settings } = parseFlags(["--db-pool-size", "3", "--db-schema", "auth"]);
    expect(loadConfig(settings, {}).dbPoolSize).toBe(3);
    expect(loadConfig(settings, {}).dbSchema).toBe("auth");
    // No unbounded waits: a timeout of 0 (pg's "forever") is refused.
    expect(codeOf(() => loadConfig({ dbConnectTimeoutMs: "0" }, {}))).toBe("config_invalid");
    expect(codeOf(() => loadConfig({}, { TESSERA_DB_STATEMENT_TIMEOUT_MS: "0" }))).toBe(
      "config_invalid",
    );
    expect(codeOf(() => loadConfig({ dbPoolSize: "0" }, {}))).toBe("config_invalid");
  });

  it("flags beat TESSERA_* env, which beats defaults", () => {
    const env = { TESSERA_PORT: "5000", TESSERA_SESSION_IDLE_TIMEOUT: "600" };
    expect(loadConfig({}, env).port).toBe(5000);
    expect(loadConfig({}, env).sessionIdleTimeout).toBe(600);
    const { settings } = parseFlags(["--port", "6000"]);
    expect(loadConfig(settings, env).port).toBe(6000);
    expect(loadConfig(settings, env).issuer).toBe("http://localhost:6000");
  });

  it("parses --flag value, --flag=value, booleans and --no-flag", () => {
    const { settings, positionals, unknown } = parseFlags(
      [
        "serve",
        "--port=4100",
        "--demo",
        "--session-idle-timeout",
        "900",
        "--no-session-remember-me",
        "--trust-proxy",
        "--password-stdin",
        "bob",
      ],
      ["password-stdin"],
    );
    expect(positionals).toEqual(["serve", "bob"]);
    expect(unknown.get("password-stdin")).toBe(true);
    const c = loadConfig(settings, {});
    expect(c).toMatchObject({
      port: 4100,
      demo: true,
      sessionIdleTimeout: 900,
      sessionRememberMe: false,
      trustProxy: 1,
    });
  });

  it("a key activation delay just past the reload interval is accepted", () => {
    expect(loadConfig({ keyActivationDelay: "3", keysReloadInterval: "2" })).toMatchObject({
      keyActivationDelay: 3,
      keysReloadInterval: 2,
    });
  });

  it("invalid values stop with a message naming the setting and what is allowed", () => {
    const cases: Array<[Record<string, string>, Record<string, string>, RegExp]> = [
      [{ port: "70000" }, {}, /port .*0 to 65535/],
      [{ port: "12abc" }, {}, /port/],
      [
        {},
        { TESSERA_SESSION_IDLE_TIMEOUT: "abc" },
        /session-idle-timeout \(TESSERA_SESSION_IDLE_TIMEOUT\)/,
      ],
      [{ logLevel: "loud" }, {}, /log-level .*one of fatal, error/],
      [{ redis: "http://x" }, {}, /redis .*redis: or rediss:/],
      [{ issuer: "not a url" }, {}, /issuer .*URL/],
      [{ demo: "perhaps" }, {}, /demo .*true or false/],
      [{ argon2MemoryCost: "1024" }, {}, /argon2-memory-cost .*19456/],
      [{ sessionIdleTimeout: "7200", sessionAbsoluteTimeout: "3600" }, {}, /must not exceed/],
      // A key another instance has not reloaded yet would sign: publish-before-sign broken.
      [{ keyActivationDelay: "30" }, {}, /key-activation-delay must exceed keys-reload-interval/],
      [{ keyActivationDelay: "0" }, {}, /key-activation-delay must exceed keys-reload-interval/],
      [{ keysReloadInterval: "600" }, {}, /key-activation-delay must exceed keys-reload-interval/],
      [{ keyActivationDelay: "5" }, { TESSERA_KEYS_RELOAD_INTERVAL: "5" }, /\(5 <= 5\)/],
      [{ issuer: "https://auth.example.com/?x=1" }, {}, /without query/],
    ];
    for (const [flags, env, message] of cases) {
      expect(() => loadConfig(flags, env)).toThrow(message);
      expect(codeOf(() => loadConfig(flags, env))).toBe("config_invalid");
    }
  });

  it("signing algorithm: ES256 by default; EdDSA and RS256 on request; nothing else", () => {
    expect(loadConfig({}, {}).signingAlg).toBe("ES256");
    expect(loadConfig({ signingAlg: "EdDSA" }, {}).signingAlg).toBe("EdDSA");
    expect(loadConfig({}, { TESSERA_SIGNING_ALG: "RS256" }).signingAlg).toBe("RS256");
    for (const alg of ["HS256", "none", "PS256", "RS384", "es256"]) {
      expect(() => loadConfig({ signingAlg: alg }, {})).toThrow(
        /signing-alg \(TESSERA_SIGNING_ALG\) must be one of ES256, EdDSA, RS256/,
      );
    }
  });

  it("tells settings the user gave (flag or environment) from defaults and derived ones", () => {
    const c = loadConfig({ signingAlg: "ES256" }, { TESSERA_ISSUER: "https://auth.example" });
    expect(c.sources).toEqual({ signingAlg: "flag", issuer: "env" });
    // ES256 is the default too: asked for, it is still "asked for".
    expect(loadConfig({}, {}).sources).toEqual({});
    expect(loadConfig({ port: "5000" }, {}).sources).toEqual({ port: "flag" });
  });

  it("--change-issuer is a flag only: TESSERA_CHANGE_ISSUER is ignored", () => {
    expect(loadConfig({}, { TESSERA_CHANGE_ISSUER: "true" }).changeIssuer).toBe(false);
    const { settings } = parseFlags(["serve", "--issuer", "https://a.example", "--change-issuer"]);
    expect(loadConfig(settings, {})).toMatchObject({
      changeIssuer: true,
      issuer: "https://a.example",
    });
    expect(() => loadConfig({ changeIssuer: "maybe" }, {})).toThrow(
      /--change-issuer must be true or false/,
    );
  });

  it("a flag that needs a value says so", () => {
    expect(() => parseFlags(["--port"])).toThrow(/--port needs a value/);
  });

  it("refuses plain HTTP beyond loopback unless behind a TLS proxy", () => {
    expect(() => assertSafeToServe(loadConfig({ host: "0.0.0.0" }, {}))).toThrow(/trust-proxy/);
    expect(() => assertSafeToServe(loadConfig({ host: "192.168.1.5" }, {}))).toThrow(
      /non-loopback/,
    );
    expect(() =>
      assertSafeToServe(loadConfig({ host: "0.0.0.0", trustProxy: "1" }, {})),
    ).not.toThrow();
    expect(() => assertSafeToServe(loadConfig({ host: "127.0.0.1" }, {}))).not.toThrow();
    expect(() => assertSafeToServe(loadConfig({ host: "::1" }, {}))).not.toThrow();
  });

  it("--workers: 1 by default, a number, or auto (one per core), from a flag or TESSERA_WORKERS", () => {
    expect(loadConfig({}, {}).workers).toBe(1);
    expect(loadConfig(parseFlags(["--workers", "3"]).settings, {}).workers).toBe(3);
    expect(loadConfig({}, { TESSERA_WORKERS: "2" }).workers).toBe(2);
    expect(loadConfig({ workers: "auto" }, {}).workers).toBe(availableParallelism());
    expect(loadConfig({}, { TESSERA_WORKERS: "auto" }).workers).toBe(availableParallelism());
    for (const bad of ["0", "-1", "257", "Auto", "2.5", "many"]) {
      expect(
        codeOf(() => loadConfig({ workers: bad }, {})),
        bad,
      ).toBe("config_invalid");
    }
    expect(() => loadConfig({ workers: "0" }, {})).toThrow(/from 1 to 256 or auto/);
  });

  it("more than one worker needs a store shared across processes", () => {
    const memory = (workers: string) => loadConfig({ workers, db: "memory:" }, {});
    expect(codeOf(() => assertWorkersSupported(memory("2")))).toBe("workers_need_shared_store");
    expect(() => assertWorkersSupported(memory("1"))).not.toThrow();
    expect(() => assertWorkersSupported(loadConfig({ workers: "2" }, {}))).not.toThrow();
    const pg = loadConfig({ workers: "2", db: "postgres://u@localhost:5432/db" }, {});
    expect(() => assertWorkersSupported(pg)).not.toThrow();
  });

  it("the demo runs in one process: --demo with more than one worker is refused", () => {
    const demo = (workers: string) => loadConfig({ workers, demo: true }, {});
    expect(codeOf(() => assertWorkersSupported(demo("2")))).toBe("config_invalid");
    expect(() => assertWorkersSupported(demo("2"))).toThrow(/--workers 1 with --demo/);
    expect(() => assertWorkersSupported(demo("1"))).not.toThrow();
  });

  it("HTTPS (--tls-cert with --tls-key): an https issuer, and it may listen beyond loopback", () => {
    const tls = { tlsCert: "/etc/tessera/cert.pem", tlsKey: "/etc/tessera/key.pem" };
    const config = loadConfig({ port: "8443", ...tls }, {});
    expect(config.issuer).toBe("https://localhost:8443");
    expect(loadConfig({}, { TESSERA_TLS_CERT: "c.pem", TESSERA_TLS_KEY: "k.pem" }).issuer).toBe(
      "https://localhost:4000",
    );
    expect(() => assertSafeToServe(loadConfig({ host: "0.0.0.0", ...tls }, {}))).not.toThrow();
    expect(() => loadConfig({ issuer: "http://auth.example", ...tls }, {})).toThrow(
      /issuer must be an https URL/,
    );
    expect(() => loadConfig({ tlsCert: "c.pem" }, {})).toThrow(/tls-cert and tls-key go together/);
    expect(() => loadConfig({}, { TESSERA_TLS_KEY: "k.pem" })).toThrow(/go together/);
  });

  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"])
      expect(isLoopback(h)).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"])
      expect(isLoopback(h)).toBe(false);
  });
});
