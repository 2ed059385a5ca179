/**
 * Where the browser tests find a browser: Debian's `chromium` at /usr/bin/chromium, driven
 * by `playwright-core` (no browser download; the machine may have no internet).
 * `.ci/run` installs it.
 *
 * Without it, `describeChromium` skips its suite and warns once; with
 * `TESSERA_REQUIRE_CHROMIUM=1` (CI) the suite fails instead, so a missing browser can
 * never pass as green. The same pattern as `describeRedis` (`redis.ts`).
 */
import { accessSync, constants } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { describe, it } from "vitest";

export const CHROMIUM_PATH = "/usr/bin/chromium";

export const CHROMIUM_SKIP_HINT =
  "browser tests skipped (set TESSERA_REQUIRE_CHROMIUM=1 to fail instead)";

/** Headless, no sandbox (CI runs as root), and nothing that would reach the network. */
const ARGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-gpu",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** Why there is no browser for the tests, or undefined when there is one. */
function unavailableReason(): string | undefined {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
    return undefined;
  } catch {
    return `${CHROMIUM_PATH} not found`;
  }
}

export function chromiumRequired(): boolean {
  return process.env.TESSERA_REQUIRE_CHROMIUM === "1";
}

/** Launches the headless Chromium (inside a `describeChromium` suite). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS });
}

let warned = false;

/**
 * `describe` when Chromium is installed; otherwise `describe.skip` with a warning, or (with
 * `TESSERA_REQUIRE_CHROMIUM=1`) a suite whose one test fails.
 */
export function describeChromium(name: string, fn: () => void): void {
  const reason = unavailableReason();
  if (reason === undefined) {
    describe(name, fn);
    return;
  }
  if (chromiumRequired()) {
    describe(name, () => {
      it("has Chromium (TESSERA_REQUIRE_CHROMIUM=1)", () => {
        throw new Error(
          `${reason}: TESSERA_REQUIRE_CHROMIUM=1, so the browser tests fail instead of being ` +
            "skipped. Install Debian's chromium (apt-get install chromium).",
        );
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(`${reason}: ${CHROMIUM_SKIP_HINT}`);
  }
  describe.skip(name, fn);
}
