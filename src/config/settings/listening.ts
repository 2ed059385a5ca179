import { availableParallelism } from "node:os";
import type { SettingSpec } from "./spec.js";

/** Listening: where and how `serve` accepts connections (port, address, issuer, proxy hops, workers, TLS). */
export const LISTENING_SETTINGS = {
  port: { type: "int", default: 4000, min: 0, max: 65535, doc: "TCP port to listen on." },
  host: {
    type: "string",
    default: "127.0.0.1",
    doc: "Address to listen on. A non-loopback address needs --tls-cert/--tls-key (HTTPS here) or --trust-proxy (TLS ends at a proxy).",
  },
  issuer: {
    type: "url",
    default: undefined,
    schemes: ["http:", "https:"],
    doc: "Public base URL of this server: the `iss` of its tokens and revocations. The first `serve` records it with the durable data, and every command of the installation uses the recorded one; an explicit value that differs is refused (see --change-issuer). Default: the recorded issuer, else http://localhost:<port> (https:// with --tls-cert).",
  },
  changeIssuer: {
    type: "bool",
    default: false,
    flagOnly: true,
    doc: "With `serve --issuer URL`: replace the issuer recorded in the data by URL (a deliberate change; flag only). Guards configured for the old issuer stop accepting tokens and revocations: reconfigure them, and restart every instance with the new --issuer.",
  },
  trustProxy: {
    type: "int",
    default: 0,
    min: 0,
    max: 10,
    doc: "Reverse-proxy hops to trust for X-Forwarded-For/-Proto, each of them on a loopback or private network (a client reaching the port from elsewhere cannot choose its IP). 0: none (the flag alone means 1).",
  },
  workers: {
    type: "int",
    default: 1,
    min: 1,
    max: 256,
    auto: () => availableParallelism(),
    doc: '`serve` processes sharing the port (node:cluster): `auto` is one per CPU core (os.availableParallelism()). 1: one process, no cluster primary. More need a store shared across processes (SQLite or PostgreSQL, Redis optional); with --db memory `serve` refuses (exit 2, `workers_need_shared_store`). A worker that dies is replaced, at most 5 times a minute (README, "Every core").',
  },
  tlsCert: {
    type: "string",
    default: undefined,
    doc: "PEM certificate chain file (server certificate first): `serve` speaks HTTPS itself (TLS 1.2 at least, forward-secret AEAD ciphers only), so it may listen beyond loopback without --trust-proxy. Needs --tls-key. Re-read with the key on SIGHUP (with --workers, the primary passes it to every worker); a bad new pair keeps the old one (logged). The issuer must then be https (default: https://localhost:<port>).",
  },
  tlsKey: {
    type: "string",
    default: undefined,
    doc: "PEM private key file of --tls-cert (unencrypted; keep it mode 0600). Needs --tls-cert.",
  },
} as const satisfies Record<string, SettingSpec>;
