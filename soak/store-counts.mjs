/**
 * After a soak run: the rows of the store's tables that hold objects with a lifetime,
 * each split into live and expired (expiry as the store itself decides it: `expires_at`
 * in ms, `exp` in seconds), read directly from PostgreSQL (pg) or the SQLite file
 * (better-sqlite3, read-only). Expired rows still present are what the janitor has not
 * swept.
 */
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

/** [label, table, expiry column, unit of the column, group by] */
const TABLES = [
  ["records", "records", "expires_at", "ms", "kind"],
  ["refresh families", "refresh_families", "expires_at", "ms"],
  ["refresh tokens", "refresh_tokens", "expires_at", "ms"],
  ["family access tokens", "family_access_tokens", "exp", "s"],
  ["refresh family tombstones", "refresh_family_tombstones", "expires_at", "ms"],
  ["revocation log events", "revocation_events", "exp", "s"],
  ["kept revocations", "kept_revocations", "exp", "s"],
  ["counters (rate limits)", "counters", "reset_at", "ms"],
];

/**
 * `graceMs`: rows expired longer ago than this are "overdue" — a sweep should have taken
 * them (one sweep interval and a margin); rows that expired since may simply not have
 * met a sweep yet.
 */
function queries(now, graceMs) {
  return TABLES.map(([label, table, col, unit, group]) => {
    const t = unit === "ms" ? now : Math.floor(now / 1000);
    const old = unit === "ms" ? now - graceMs : Math.floor((now - graceMs) / 1000);
    const select = `count(*) AS total, sum(CASE WHEN ${col} <= ${t} THEN 1 ELSE 0 END) AS expired, sum(CASE WHEN ${col} <= ${old} THEN 1 ELSE 0 END) AS overdue`;
    const extra =
      table === "refresh_families"
        ? ", sum(CASE WHEN revoked_at IS NOT NULL THEN 1 ELSE 0 END) AS revoked"
        : "";
    const sql =
      group === undefined
        ? `SELECT ${select}${extra} FROM ${table}`
        : `SELECT ${group} AS grp, ${select} FROM ${table} GROUP BY ${group} ORDER BY ${group}`;
    return { label, sql };
  });
}

/**
 * Refresh families and tokens that are over although their rows' `expires_at` (the
 * family's absolute lifetime) has not come: families revoked, or without any token still
 * usable (all consumed or past the idle lifetime); tokens consumed or past their expiry.
 */
function refreshQueries(now) {
  const dead = `f.revoked_at IS NOT NULL OR NOT EXISTS (SELECT 1 FROM refresh_tokens t
    WHERE t.family_id = f.id AND t.consumed_at IS NULL AND t.expires_at > ${now})`;
  return [
    {
      label: "refresh families over (revoked, or no usable token left) but not expired",
      sql: `SELECT count(*) AS total, 0 AS expired, 0 AS overdue FROM refresh_families f
        WHERE f.expires_at > ${now} AND (${dead})`,
    },
    {
      label: "refresh tokens consumed or past their own expiry",
      sql: `SELECT count(*) AS total, 0 AS expired, 0 AS overdue FROM refresh_tokens
        WHERE consumed_at IS NOT NULL OR expires_at <= ${now}`,
    },
  ];
}

/** Rows: `{ label, total, expired, revoked? }` (records: one per kind). */
function rowsOf(label, result) {
  return result.map((r) => ({
    label: r.grp === undefined ? label : `${label}: ${r.grp}`,
    total: Number(r.total),
    expired: Number(r.expired ?? 0),
    overdue: Number(r.overdue ?? 0),
    ...(r.revoked === undefined ? {} : { revoked: Number(r.revoked ?? 0) }),
  }));
}

export async function countPostgres(url, schema, now, graceMs) {
  const { Client } = require("pg");
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path TO "${schema.replace(/"/g, '""')}"`);
    const out = [];
    for (const { label, sql } of [...queries(now, graceMs), ...refreshQueries(now)]) {
      out.push(...rowsOf(label, (await client.query(sql)).rows));
    }
    return out;
  } finally {
    await client.end();
  }
}

export function countSqlite(path, now, graceMs) {
  const Database = require("better-sqlite3");
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return [...queries(now, graceMs), ...refreshQueries(now)].flatMap(({ label, sql }) =>
      rowsOf(label, db.prepare(sql).all()),
    );
  } finally {
    db.close();
  }
}
