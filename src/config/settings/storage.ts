import type { SettingSpec } from "./spec.js";
import { DAY, HOUR } from "./units.js";

/** Storage: the data directory, the durable store (SQLite, PostgreSQL), Redis, sweeps and the audit trail's retention. */
export const STORAGE_SETTINGS = {
  data: {
    type: "string",
    default: "./.tessera",
    doc: "Data directory (SQLite file, key files), relative to the current directory. Every command says on stderr which data it uses; a command other than `serve` only uses an existing installation (see --init).",
  },
  init: {
    type: "bool",
    default: false,
    flagOnly: true,
    doc: "Lets a command other than `serve` create a new installation (data directory, database, secret) where none is found. Without it such a command stops with exit code 2, naming where it looked, and creates nothing. `serve` creates one on its first start anyway. Flag only.",
  },
  db: {
    type: "url",
    default: undefined,
    schemes: ["sqlite:", "postgres:", "postgresql:", "memory:"],
    doc: "Durable store URL: sqlite:PATH (one machine), postgres://USER@HOST:PORT/DATABASE (any number of instances; without --redis it holds sessions, rate limits and the revocation log too; give a password through TESSERA_DB or PGPASSWORD, never on the command line) or memory: (tests only). Default: sqlite:<data>/tessera.db.",
  },
  dbSchema: {
    type: "string",
    default: undefined,
    doc: "PostgreSQL schema of Tessera's tables (created by the first migration if missing), so several installations can share one database. Default: the role's search_path (normally public).",
  },
  dbPoolSize: {
    type: "int",
    default: 10,
    min: 1,
    max: 1000,
    doc: "Most PostgreSQL connections one instance holds open (its pool), plus one while the revocation feed is followed. Requests beyond wait for a free one, at most --db-connect-timeout-ms.",
  },
  dbConnectTimeoutMs: {
    type: "int",
    default: 5000,
    min: 100,
    max: 120_000,
    doc: "Milliseconds a request may wait for a PostgreSQL connection (connecting, or a free one from a busy pool); past it the answer is 503 `store_unavailable`. `pg` alone would wait forever.",
  },
  dbStatementTimeoutMs: {
    type: "int",
    default: 5000,
    min: 100,
    max: 600_000,
    doc: "Milliseconds one PostgreSQL statement may run, lock waits included, before PostgreSQL cancels it (statement_timeout) and the request is answered 503 `store_unavailable`. Migrations are not bound by it.",
  },
  redis: {
    type: "url",
    default: undefined,
    schemes: ["redis:", "rediss:"],
    doc: "Ephemeral store (sessions, rate limits) shared by several instances. Default: none (the durable store holds them).",
  },
  redisPrefix: {
    type: "string",
    default: "tessera:",
    doc: "Key prefix in Redis, so several deployments can share one server.",
  },
  redisAllowEviction: {
    type: "bool",
    default: false,
    doc: "Start even if Redis's maxmemory-policy is not noeviction (or cannot be read), with a warning. Otherwise Tessera refuses to start (exit 2): an evicting Redis silently loses sessions, denylist entries and rate-limit counters when full.",
  },
  sweepInterval: {
    type: "int",
    default: 60,
    min: 1,
    max: DAY,
    doc: "Seconds between sweeps of expired records in the SQLite or PostgreSQL store (PostgreSQL: in batches of 500 rows, each its own short statement).",
  },
  auditRetention: {
    type: "int",
    default: 90 * DAY,
    min: HOUR,
    max: 10 * 365 * DAY,
    doc: "Seconds the audit trail keeps a security event (`tessera audit`); older ones go at the store's sweeps (--sweep-interval). Always in the durable store (--db), with or without --redis.",
  },
} as const satisfies Record<string, SettingSpec>;
