import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { loadConfig, parseFlags } from "../../src/config/load.js";
import type { TesseraError } from "../../src/errors.js";
import { resolveIssuer } from "../../src/installation/issuer.js";
import { MemoryStore } from "../../src/store/memory/index.js";

const fresh = () => new MemoryStore(new ManualClock()).installation;
/** A configuration as a command line and environment would give it. */
const config = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  loadConfig(parseFlags(args).settings, env);

async function refusal(p: Promise<unknown>): Promise<TesseraError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected a refusal").toBeDefined();
  return err as TesseraError;
}

describe("the installation's issuer", () => {
  it("the first serve records its issuer, explicit or derived", async () => {
    const a = fresh();
    expect(await resolveIssuer(a, config(["--issuer", "https://auth.example"]), true)).toEqual({
      issuer: "https://auth.example",
      notices: [],
    });
    expect(await a.getSetting("issuer")).toBe("https://auth.example");
    const b = fresh();
    await resolveIssuer(b, config(["--port", "4100"]), true);
    expect(await b.getSetting("issuer")).toBe("http://localhost:4100");
  });

  it("before any serve, a command uses what it is given and records nothing", async () => {
    const store = fresh();
    const r = await resolveIssuer(store, config([]), false);
    expect(r.issuer).toBe("http://localhost:4000");
    expect(await store.getSetting("issuer")).toBeUndefined();
  });

  it("every other command uses the recorded issuer, not its own derived one", async () => {
    const store = fresh();
    await resolveIssuer(store, config(["--issuer", "https://auth.example"]), true);
    // `tessera user disable bob` without --issuer or TESSERA_ISSUER.
    expect(await resolveIssuer(store, config([]), false)).toEqual({
      issuer: "https://auth.example",
      notices: [],
    });
    // The same explicitly: fine.
    const same = config([], { TESSERA_ISSUER: "https://auth.example/" });
    expect((await resolveIssuer(store, same, false)).issuer).toBe("https://auth.example");
  });

  it("an explicit issuer that disagrees is refused (config_invalid: exit 2), naming both and the way out", async () => {
    const store = fresh();
    await resolveIssuer(store, config(["--issuer", "https://auth.example"]), true);
    for (const serve of [true, false]) {
      const byFlag = await refusal(
        resolveIssuer(store, config(["--issuer", "https://other.example"]), serve),
      );
      expect(byFlag.code).toBe("config_invalid");
      expect(byFlag.message).toContain("--issuer is https://other.example");
      expect(byFlag.message).toContain("this installation's issuer is https://auth.example");
      expect(byFlag.message).toContain(
        "tessera serve --issuer https://other.example --change-issuer",
      );
      const byEnv = await refusal(
        resolveIssuer(store, config([], { TESSERA_ISSUER: "https://other.example" }), serve),
      );
      expect(byEnv.message).toContain("TESSERA_ISSUER is https://other.example");
    }
    expect(await store.getSetting("issuer")).toBe("https://auth.example");
  });

  it("serve on another port without --issuer keeps the recorded issuer and says so", async () => {
    const store = fresh();
    await resolveIssuer(store, config(["--port", "4000"]), true);
    const r = await resolveIssuer(store, config(["--port", "5000"]), true);
    expect(r.issuer).toBe("http://localhost:4000");
    expect(r.notices).toHaveLength(1);
    expect(r.notices[0]?.level).toBe("warn");
    expect(r.notices[0]?.message).toMatch(
      /issuer: http:\/\/localhost:4000, the issuer recorded .*derived http:\/\/localhost:5000/,
    );
    expect(await store.getSetting("issuer")).toBe("http://localhost:4000");
  });

  it("serve --issuer NEW --change-issuer records NEW deliberately; then every command uses it", async () => {
    const store = fresh();
    await resolveIssuer(store, config(["--issuer", "https://old.example"]), true);
    const r = await resolveIssuer(
      store,
      config(["--issuer", "https://new.example", "--change-issuer"]),
      true,
    );
    expect(r.issuer).toBe("https://new.example");
    expect(r.notices[0]?.message).toMatch(
      /issuer changed from https:\/\/old.example to https:\/\/new.example/,
    );
    expect(await store.getSetting("issuer")).toBe("https://new.example");
    expect((await resolveIssuer(store, config([]), false)).issuer).toBe("https://new.example");
  });

  it("--change-issuer: only with --issuer, only at serve", async () => {
    const store = fresh();
    await resolveIssuer(store, config(["--issuer", "https://old.example"]), true);
    const noIssuer = await refusal(resolveIssuer(store, config(["--change-issuer"]), true));
    expect(noIssuer.code).toBe("config_invalid");
    expect(noIssuer.message).toMatch(/--change-issuer needs --issuer URL/);
    const notServe = await refusal(
      resolveIssuer(store, config(["--issuer", "https://new.example", "--change-issuer"]), false),
    );
    expect(notServe.message).toMatch(/--change-issuer is for `tessera serve/);
    expect(await store.getSetting("issuer")).toBe("https://old.example");
  });
});
