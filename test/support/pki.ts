/**
 * A throwaway PKI for the TLS tests, made at test time with the `openssl` CLI in a temp
 * directory: a CA, a second CA (the "wrong CA"), and server certificates for localhost,
 * 127.0.0.1 and ::1 signed by the first. P-256 keys: quick to make.
 *
 * Without `openssl`, `describeOpenssl` skips its suite and warns once; with
 * `TESSERA_REQUIRE_OPENSSL=1` (CI) the suite fails instead, as `describeRedis` does.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";

export const OPENSSL_SKIP_HINT =
  "TLS tests skipped (set TESSERA_REQUIRE_OPENSSL=1 to fail instead)";

let available: boolean | undefined;

/** True when an `openssl` command runs. */
export function opensslAvailable(): boolean {
  available ??= spawnSync("openssl", ["version"], { stdio: "ignore" }).status === 0;
  return available;
}

let warned = false;

/**
 * `describe` when `openssl` is available; otherwise `describe.skip` with a warning, or
 * (with `TESSERA_REQUIRE_OPENSSL=1`) a suite whose one test fails.
 */
export function describeOpenssl(name: string, fn: () => void): void {
  if (opensslAvailable()) {
    describe(name, fn);
    return;
  }
  if (process.env.TESSERA_REQUIRE_OPENSSL === "1") {
    describe(name, () => {
      it("has the openssl command (TESSERA_REQUIRE_OPENSSL=1)", () => {
        throw new Error(
          "openssl not found: TESSERA_REQUIRE_OPENSSL=1, so the TLS tests fail instead of being skipped. Install openssl.",
        );
      });
    });
    return;
  }
  if (!warned) {
    warned = true;
    console.warn(`openssl not found: ${OPENSSL_SKIP_HINT}`);
  }
  describe.skip(name, fn);
}

export interface Issued {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** Upper-case hex, as X509Certificate#serialNumber gives it. */
  serialNumber: string;
}

export interface TestPki {
  dir: string;
  caFile: string;
  /** PEM of the CA that signs the server certificates. */
  ca: string;
  /** PEM of another CA, which signed nothing here. */
  otherCa: string;
  otherCaFile: string;
  /** A server certificate (localhost, 127.0.0.1, ::1) signed by `ca`, named `name`. */
  issue(name: string): Issued;
  /** Removes the directory. */
  remove(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-subj",
      `/CN=Tessera test ${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
}

let serial = 0x1000;

/** A fresh PKI in a temp directory. */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "tessera-pki-"));
  makeCa(dir, "ca");
  makeCa(dir, "other-ca");
  writeFileSync(
    join(dir, "server.ext"),
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
      "",
    ].join("\n"),
  );
  const read = (f: string) => readFileSync(join(dir, f), "utf8");
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    ca: read("ca.pem"),
    otherCaFile: join(dir, "other-ca.pem"),
    otherCa: read("other-ca.pem"),
    issue(name) {
      serial += 1;
      const hex = serial.toString(16).toUpperCase();
      const args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
      openssl(
        ["req", ...args, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", "/CN=localhost"],
        dir,
      );
      openssl(
        [
          "x509",
          "-req",
          "-in",
          `${name}.csr`,
          "-CA",
          "ca.pem",
          "-CAkey",
          "ca.key",
          "-set_serial",
          `0x${hex}`,
          "-days",
          "2",
          "-extfile",
          "server.ext",
          "-out",
          `${name}.pem`,
        ],
        dir,
      );
      return {
        certFile: join(dir, `${name}.pem`),
        keyFile: join(dir, `${name}.key`),
        cert: read(`${name}.pem`),
        key: read(`${name}.key`),
        serialNumber: hex.padStart(hex.length + (hex.length % 2), "0"),
      };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
