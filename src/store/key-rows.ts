import type { KeyRecord, SigningAlg } from "./types.js";

/** A signing key as the SQL stores (SQLite, PostgreSQL) keep it: table `signing_keys`. */
export interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_key_enc: string;
  created_at: number;
  activates_at: number;
  retired_at: number | null;
  remove_after: number | null;
  /** `id_token` for a key that signs ID tokens only; NULL for the access-token key. */
  purpose: string | null;
}

/** The columns of `KeyRow`, in the order `keyRowValues` lists them. */
export const KEY_COLUMNS = [
  "kid",
  "alg",
  "public_jwk",
  "private_key_enc",
  "created_at",
  "activates_at",
  "retired_at",
  "remove_after",
  "purpose",
] as const;

export function keyFromRow(row: KeyRow): KeyRecord {
  const k: KeyRecord = {
    kid: row.kid,
    alg: row.alg as SigningAlg,
    publicJwk: JSON.parse(row.public_jwk) as Record<string, string>,
    privateKeyEnc: row.private_key_enc,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
  };
  if (row.retired_at !== null) k.retiredAt = row.retired_at;
  if (row.remove_after !== null) k.removeAfter = row.remove_after;
  if (row.purpose === "id_token") k.purpose = "id_token";
  return k;
}

/** `k` as a row: the values of `KEY_COLUMNS`, in that order. */
export function keyRowValues(k: KeyRecord): unknown[] {
  return [
    k.kid,
    k.alg,
    JSON.stringify(k.publicJwk),
    k.privateKeyEnc,
    k.createdAt,
    k.activatesAt,
    k.retiredAt ?? null,
    k.removeAfter ?? null,
    k.purpose ?? null,
  ];
}
