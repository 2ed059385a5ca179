/**
 * HTTPS for `tessera serve --tls-cert FILE --tls-key FILE`: what is enforced (TLS 1.2 at
 * least: RFC 7662 §4 requires TLS for introspection, and 1.0/1.1 are deprecated by RFC 8996;
 * forward-secret AEAD ciphers only for 1.2, OpenSSL's defaults for 1.3) and how a
 * certificate and its key are read and checked, at startup and on every SIGHUP reload.
 *
 * A bad pair is a `tls_invalid` error naming the file and what is wrong with it; the
 * message never contains key material (nor OpenSSL's own text, which could quote it).
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { TesseraError } from "../errors.js";

/** The oldest protocol version a client may negotiate. */
export const TLS_MIN_VERSION = "TLSv1.2";

/**
 * TLS 1.2 cipher suites offered (Mozilla's "intermediate" list without DHE): ECDHE key
 * exchange (forward secrecy) with AES-GCM or ChaCha20-Poly1305. No CBC, no RSA key
 * exchange, no SHA-1 MACs. TLS 1.3's suites (all AEAD) are OpenSSL's defaults.
 */
export const TLS12_CIPHERS = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

/** A certificate and its key, read and checked, with what may be logged about them. */
export interface TlsPair {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 fingerprint of the (first) certificate, colon-separated hex. */
  readonly fingerprint: string;
  readonly serialNumber: string;
  /** The certificate's notAfter, as OpenSSL prints it. */
  readonly validTo: string;
}

function tlsError(message: string): TesseraError {
  return new TesseraError("tls_invalid", message);
}

function readPem(file: string, flag: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
    throw tlsError(`cannot read --${flag} ${JSON.stringify(file)} (${code})`);
  }
}

/**
 * Reads `certFile` (PEM, the server certificate first, then any intermediates) and
 * `keyFile` (an unencrypted PEM private key) and checks that they make a usable pair.
 */
export function loadTlsPair(certFile: string, keyFile: string): TlsPair {
  const cert = readPem(certFile, "tls-cert");
  const key = readPem(keyFile, "tls-key");
  if (!cert.includes("-----BEGIN CERTIFICATE-----")) {
    throw tlsError(`--tls-cert ${JSON.stringify(certFile)} holds no PEM certificate`);
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw tlsError(`--tls-cert ${JSON.stringify(certFile)} holds no valid PEM certificate`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw tlsError(
      `--tls-key ${JSON.stringify(keyFile)} holds no valid unencrypted PEM private key`,
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw tlsError(
      `the key in --tls-key ${JSON.stringify(keyFile)} does not match the certificate in --tls-cert ${JSON.stringify(certFile)}`,
    );
  }
  const pair = {
    cert,
    key,
    fingerprint: x509.fingerprint256,
    serialNumber: x509.serialNumber,
    validTo: x509.validTo,
  };
  try {
    // What the server will do with them (e.g. a key too small for OpenSSL's security level).
    createSecureContext(secureContextOptions(pair));
  } catch {
    throw tlsError(
      `OpenSSL refuses the pair --tls-cert ${JSON.stringify(certFile)} / --tls-key ${JSON.stringify(keyFile)} (a key too small or a weak signature?)`,
    );
  }
  return pair;
}

/** The server's TLS settings for a pair: for the server at startup and setSecureContext. */
export function secureContextOptions(pair: Pick<TlsPair, "cert" | "key">): SecureContextOptions {
  return {
    cert: pair.cert,
    key: pair.key,
    minVersion: TLS_MIN_VERSION,
    ciphers: TLS12_CIPHERS,
    honorCipherOrder: true,
  };
}
