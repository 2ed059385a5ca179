import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TesseraError } from "../errors.js";

/** Name of the generated key-encryption secret in the data directory. */
export const SECRET_FILE = "secret.key";

const VERSION = "v1";

/**
 * The key-encryption key (KEK) that protects signing keys at rest. Derived with HKDF
 * from `TESSERA_SECRET` or, by default, from a random secret generated once into
 * `<data>/secret.key` (mode 0600). Losing the secret makes the stored private keys
 * unreadable: back it up with the database, but never in the same place as a dump of it.
 */
export class KeyEncryptionKey {
  private constructor(private readonly key: Buffer) {}

  static fromSecret(secret: string): KeyEncryptionKey {
    if (Buffer.byteLength(secret, "utf8") < 32) {
      throw new TesseraError(
        "config_invalid",
        "TESSERA_SECRET must be at least 32 bytes (e.g. `openssl rand -base64 32`)",
      );
    }
    const okm = hkdfSync("sha256", secret, "tessera-kek-v1", "signing-keys", 32);
    return new KeyEncryptionKey(Buffer.from(okm));
  }

  /**
   * The secret from the environment, or from `<dataDir>/secret.key`, generated there
   * (mode 0600) on first use. Refuses a secret file that others may read.
   */
  static load(options: {
    secret?: string | undefined;
    dataDir?: string | undefined;
  }): KeyEncryptionKey {
    if (options.secret !== undefined) return KeyEncryptionKey.fromSecret(options.secret);
    if (options.dataDir === undefined) {
      // No data directory (memory store): keys live and die with the process.
      return KeyEncryptionKey.fromSecret(randomBytes(32).toString("base64url"));
    }
    const path = join(options.dataDir, SECRET_FILE);
    let secret: string;
    try {
      const mode = statSync(path).mode & 0o077;
      if (mode !== 0) {
        throw new TesseraError(
          "config_invalid",
          `${path} is readable by other users; run: chmod 600 ${path}`,
        );
      }
      secret = readFileSync(path, "utf8").trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
      secret = randomBytes(32).toString("base64url");
      try {
        writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: "wx" });
      } catch (e) {
        // Another process created it first: use theirs.
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        secret = readFileSync(path, "utf8").trim();
      }
      chmodSync(path, 0o600);
    }
    return KeyEncryptionKey.fromSecret(secret);
  }

  /** A separate 256-bit key for another purpose (HKDF over this key, labelled by `info`). */
  derive(info: string): Buffer {
    return Buffer.from(hkdfSync("sha256", this.key, "tessera-derived-v1", info, 32));
  }

  /** AES-256-GCM with a random 96-bit IV; `aad` binds the ciphertext to its owner (the kid). */
  encrypt(plaintext: Buffer, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv, ct, tag]
      .map((p) => (typeof p === "string" ? p : p.toString("base64url")))
      .join(".");
  }

  decrypt(sealed: string, aad: string): Buffer {
    const parts = sealed.split(".");
    if (parts.length !== 4 || parts[0] !== VERSION) {
      throw new TesseraError("config_invalid", "A stored signing key has an unknown format.");
    }
    const [, iv, ct, tag] = parts.map((p) => Buffer.from(p, "base64url")) as [
      Buffer,
      Buffer,
      Buffer,
      Buffer,
    ];
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, iv);
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ct), decipher.final()]);
    } catch {
      throw new TesseraError(
        "config_invalid",
        "Cannot decrypt the stored signing keys: TESSERA_SECRET (or <data>/secret.key) is not the one they were made with.",
      );
    }
  }
}
