import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { KeyEncryptionKey, SECRET_FILE } from "../../src/keys/kek.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "tessera-kek-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("key-encryption key", () => {
  it("round-trips, and binds the ciphertext to its kid (AAD)", () => {
    const kek = KeyEncryptionKey.fromSecret("x".repeat(32));
    const sealed = kek.encrypt(Buffer.from("private key bytes"), "kid-1");
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain(Buffer.from("private key bytes").toString("base64url"));
    expect(kek.decrypt(sealed, "kid-1").toString()).toBe("private key bytes");
    expect(() => kek.decrypt(sealed, "kid-2")).toThrow(/Cannot decrypt/);
  });

  it("refuses a wrong secret with a clear message", () => {
    const sealed = KeyEncryptionKey.fromSecret("a".repeat(32)).encrypt(Buffer.from("k"), "kid");
    expect(() => KeyEncryptionKey.fromSecret("b".repeat(32)).decrypt(sealed, "kid")).toThrow(
      /TESSERA_SECRET/,
    );
  });

  it("refuses a tampered ciphertext", () => {
    const kek = KeyEncryptionKey.fromSecret("x".repeat(32));
    const parts = kek.encrypt(Buffer.from("private key bytes"), "kid").split(".");
    const ct = Buffer.from(parts[2] as string, "base64url");
    ct[0] = (ct[0] as number) ^ 1;
    parts[2] = ct.toString("base64url");
    expect(() => kek.decrypt(parts.join("."), "kid")).toThrow();
  });

  it("refuses a short TESSERA_SECRET", () => {
    expect(() => KeyEncryptionKey.fromSecret("short")).toThrow(/at least 32 bytes/);
  });

  it("generates <data>/secret.key with mode 0600 once, then reuses it", () => {
    const dir = tempDir();
    const a = KeyEncryptionKey.load({ dataDir: dir });
    const path = join(dir, SECRET_FILE);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const secret = readFileSync(path, "utf8");
    const sealed = a.encrypt(Buffer.from("k"), "kid");
    const b = KeyEncryptionKey.load({ dataDir: dir });
    expect(readFileSync(path, "utf8")).toBe(secret);
    expect(b.decrypt(sealed, "kid").toString()).toBe("k");
  });

  it("refuses a secret file others can read", () => {
    const dir = tempDir();
    KeyEncryptionKey.load({ dataDir: dir });
    chmodSync(join(dir, SECRET_FILE), 0o644);
    expect(() => KeyEncryptionKey.load({ dataDir: dir })).toThrow(/chmod 600/);
  });

  it("TESSERA_SECRET wins over the file", () => {
    const dir = tempDir();
    const fromEnv = KeyEncryptionKey.load({ secret: "s".repeat(40), dataDir: dir });
    const sealed = fromEnv.encrypt(Buffer.from("k"), "kid");
    expect(KeyEncryptionKey.fromSecret("s".repeat(40)).decrypt(sealed, "kid").toString()).toBe("k");
  });
});
