/**
 * `tessera serve --tls-cert FILE --tls-key FILE` (issue 14, TLS): a real process, a
 * throwaway PKI made by `openssl` (test/support/pki.ts), real TLS clients.
 *
 * - what is enforced: TLS 1.1 and a CBC cipher suite are refused, each next to a control
 *   (a plain node:tls server with the same certificate that accepts the same client), so
 *   the test fails if the refusal is the client's own doing;
 * - the certificate is verified by a client that trusts the CA, refused by one that trusts
 *   another CA;
 * - SIGHUP reloads the files (a new connection sees the new certificate's serial); a bad
 *   new pair keeps the old one and the log says why, without key material;
 * - bad, missing or mismatched files stop `serve` with exit code 2 and `tls_invalid`.
 */
import { X509Certificate } from "node:crypto";
import { copyFileSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { get } from "node:https";
import { join } from "node:path";
import { type ConnectionOptions, connect, createServer, type PeerCertificate } from "node:tls";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeOpenssl, type Issued, makePki, type TestPki } from "../support/pki.js";
import {
  removeTempDirs,
  runCli,
  type ServerProcess,
  startServer,
  stopAllServers,
  tempDataDir,
} from "../support/process.js";

/** Offers TLS 1.0 and 1.1 only, with every cipher OpenSSL still has (security level 0). */
const TLS11_CLIENT: ConnectionOptions = {
  minVersion: "TLSv1",
  maxVersion: "TLSv1.1",
  ciphers: "DEFAULT@SECLEVEL=0",
};
/** TLS 1.2 with a CBC suite (no AEAD) only. */
const CBC_CLIENT: ConnectionOptions = {
  minVersion: "TLSv1.2",
  maxVersion: "TLSv1.2",
  ciphers: "ECDHE-ECDSA-AES128-SHA",
};

interface Handshake {
  ok: boolean;
  error?: string;
  protocol?: string | null;
  cert?: PeerCertificate;
}

/** One TLS handshake to 127.0.0.1:port as `localhost`; never rejects. */
function handshake(port: number, options: ConnectionOptions): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, servername: "localhost", ...options });
    socket.setTimeout(5000, () => {
      socket.destroy();
      resolve({ ok: false, error: "timeout" });
    });
    socket.once("secureConnect", () => {
      const result = {
        ok: true,
        protocol: socket.getProtocol(),
        cert: socket.getPeerCertificate(),
      };
      socket.end();
      resolve(result);
    });
    socket.once("error", (err: NodeJS.ErrnoException) => {
      socket.destroy();
      resolve({ ok: false, error: err.code ?? err.message });
    });
  });
}

/** A node:tls server with Node's defaults except those given: the control. */
async function controlServer<T>(
  pair: Issued,
  options: Record<string, unknown>,
  fn: (port: number) => Promise<T>,
): Promise<T> {
  const server = createServer({ cert: pair.cert, key: pair.key, ...options }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    return await fn((server.address() as { port: number }).port);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

/** Waits (bounded) until the server's stdout has `n` lines containing `text`. */
async function logged(server: ServerProcess, text: string, n = 1): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (server.stdout().split(text).length - 1 >= n) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no log line "${text}" (x${n}):\n${server.stdout()}`);
}

describeOpenssl("serve --tls-cert/--tls-key", () => {
  let pki: TestPki;
  let first: Issued;
  let second: Issued;
  let other: Issued;
  let live: { certFile: string; keyFile: string };
  let server: ServerProcess;

  beforeAll(async () => {
    pki = makePki();
    first = pki.issue("first");
    second = pki.issue("second");
    other = pki.issue("other");
    live = { certFile: join(pki.dir, "live.pem"), keyFile: join(pki.dir, "live.key") };
    copyFileSync(first.certFile, live.certFile);
    copyFileSync(first.keyFile, live.keyFile);
    // The environment variables, as a deployment would set them.
    server = await startServer(["--data", tempDataDir()], {
      TESSERA_TLS_CERT: live.certFile,
      TESSERA_TLS_KEY: live.keyFile,
    });
  }, 60_000);

  afterAll(async () => {
    await stopAllServers();
    removeTempDirs();
    pki?.remove();
  });

  it("serves HTTPS under an https issuer, with a certificate the CA vouches for", async () => {
    expect(server.stdout()).toContain(`Tessera listening on https://localhost:${server.port}`);
    expect(server.stdout()).toContain(`(issuer https://localhost:${server.port})`);
    const h = await handshake(server.port, { ca: pki.ca });
    expect(h.ok, h.error).toBe(true);
    expect(h.protocol).toBe("TLSv1.3");
    expect(h.cert?.serialNumber).toBe(first.serialNumber);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      get(`https://localhost:${server.port}/healthz`, { ca: pki.ca }, resolve).once(
        "error",
        reject,
      );
    });
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(res.headers["strict-transport-security"]).toMatch(/max-age=/);
  });

  it("refuses a client trusting another CA", async () => {
    const h = await handshake(server.port, { ca: pki.otherCa });
    expect(h.ok).toBe(false);
    expect(h.error).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
  });

  it("refuses TLS 1.1, which a server allowing TLS 1.0 and up accepts from the same client", async () => {
    const control = await controlServer(
      first,
      { minVersion: "TLSv1", ciphers: "DEFAULT@SECLEVEL=0" },
      (port) => handshake(port, { ...TLS11_CLIENT, ca: pki.ca }),
    );
    expect(control.ok, control.error).toBe(true);
    expect(control.protocol).toBe("TLSv1.1");
    const h = await handshake(server.port, { ...TLS11_CLIENT, ca: pki.ca });
    expect(h.ok).toBe(false);
    expect(h.protocol).toBeUndefined();
  });

  it("refuses TLS 1.2 with a CBC cipher suite, which Node's default server accepts", async () => {
    const control = await controlServer(first, {}, (port) =>
      handshake(port, { ...CBC_CLIENT, ca: pki.ca }),
    );
    expect(control.ok, control.error).toBe(true);
    const h = await handshake(server.port, { ...CBC_CLIENT, ca: pki.ca });
    expect(h.ok).toBe(false);
    const aead = await handshake(server.port, {
      ca: pki.ca,
      maxVersion: "TLSv1.2",
      ciphers: "ECDHE-ECDSA-AES128-GCM-SHA256",
    });
    expect(aead.ok, aead.error).toBe(true);
    expect(aead.protocol).toBe("TLSv1.2");
  });

  it("reloads the certificate on SIGHUP; a bad new pair keeps the current one", async () => {
    copyFileSync(second.certFile, live.certFile);
    copyFileSync(second.keyFile, live.keyFile);
    process.kill(server.pid, "SIGHUP");
    await logged(server, "TLS certificate reloaded");
    const after = await handshake(server.port, { ca: pki.ca });
    expect(after.ok, after.error).toBe(true);
    expect(after.cert?.serialNumber).toBe(second.serialNumber);
    expect(after.cert?.fingerprint256).toBe(new X509Certificate(second.cert).fingerprint256);

    // A key that does not match the certificate: refused, the second pair stays.
    copyFileSync(other.keyFile, live.keyFile);
    process.kill(server.pid, "SIGHUP");
    await logged(server, "TLS reload failed");
    const kept = await handshake(server.port, { ca: pki.ca });
    expect(kept.ok, kept.error).toBe(true);
    expect(kept.cert?.serialNumber).toBe(second.serialNumber);
    const line =
      server
        .stdout()
        .split("\n")
        .find((l) => l.includes("TLS reload failed")) ?? "";
    expect(line).toContain("tls_invalid");
    expect(line).toContain("does not match");
    expect(server.stdout()).not.toContain("PRIVATE KEY");
    expect(server.stdout()).not.toContain(other.key.split("\n")[1]);

    // A missing file: refused too.
    writeFileSync(live.keyFile, "");
    copyFileSync(first.certFile, live.certFile);
    process.kill(server.pid, "SIGHUP");
    await logged(server, "TLS reload failed", 2);
    expect((await handshake(server.port, { ca: pki.ca })).cert?.serialNumber).toBe(
      second.serialNumber,
    );
  });

  it("with --workers 2: every worker serves HTTPS, and SIGHUP to the primary reloads them all", async () => {
    const files = { certFile: join(pki.dir, "w.pem"), keyFile: join(pki.dir, "w.key") };
    copyFileSync(first.certFile, files.certFile);
    copyFileSync(first.keyFile, files.keyFile);
    const primary = await startServer([
      "--data",
      tempDataDir(),
      "--workers",
      "2",
      "--tls-cert",
      files.certFile,
      "--tls-key",
      files.keyFile,
    ]);
    expect(primary.stdout()).toContain(`Tessera listening on https://localhost:${primary.port}`);
    // The primary hands connections to the workers in turn: several handshakes meet both.
    const serials = async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const h = await handshake(primary.port, { ca: pki.ca });
        expect(h.ok, h.error).toBe(true);
        seen.add(h.cert?.serialNumber ?? "");
      }
      return seen;
    };
    expect(await serials()).toEqual(new Set([first.serialNumber]));
    copyFileSync(second.certFile, files.certFile);
    copyFileSync(second.keyFile, files.keyFile);
    process.kill(primary.pid, "SIGHUP");
    // Each worker logs its reload (the primary is still running: SIGHUP did not end it).
    await logged(primary, "TLS certificate reloaded", 2);
    expect(await serials()).toEqual(new Set([second.serialNumber]));
    await primary.stop();
  });

  it("stops with exit code 2 and tls_invalid on a bad, missing or mismatched file", async () => {
    const garbage = join(pki.dir, "garbage.pem");
    writeFileSync(garbage, "not a certificate\n");
    const cases: [string[], RegExp][] = [
      [["--tls-cert", join(pki.dir, "missing.pem"), "--tls-key", first.keyFile], /ENOENT/],
      [["--tls-cert", garbage, "--tls-key", first.keyFile], /no PEM certificate/],
      [["--tls-cert", first.certFile, "--tls-key", garbage], /no valid unencrypted PEM/],
      [["--tls-cert", first.keyFile, "--tls-key", first.keyFile], /no PEM certificate/],
      [["--tls-cert", first.certFile, "--tls-key", second.keyFile], /does not match/],
    ];
    for (const [args, why] of cases) {
      const r = await runCli(["serve", "--port", "0", "--data", tempDataDir(), ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).toMatch(/\(tls_invalid\)\n$/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr).not.toContain("PRIVATE KEY");
    }
    const half = await runCli(["serve", "--data", tempDataDir(), "--tls-cert", first.certFile]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/tls-cert and tls-key go together.*\(config_invalid\)/);
  });
});
