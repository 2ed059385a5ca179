import { parseScope } from "../../clients/clients.js";
import { unchangedSince } from "../../clients/current.js";
import { randomToken, sha256 } from "../../crypto/random.js";
import { TesseraError } from "../../errors.js";
import { type IdTokenInput, IdTokens } from "../../oidc/id-token.js";
import type { ClientRecord } from "../../store/types.js";
import type { IssuedAccessToken } from "../../tokens/access.js";
import type { TokenEndpointDeps, TokenResponse, TokenResult } from "../token.js";

// The steps the grants of the token endpoint share (./client-credentials.ts,
// ./authorization-code.ts, ./refresh-token.ts).

type OAuthCode =
  | "invalid_request"
  | "invalid_grant"
  | "invalid_scope"
  | "unauthorized_client"
  | "unsupported_grant_type";

/** An OAuth error of the token endpoint (RFC 6749 §5.2). */
export function oauth(code: OAuthCode, message: string) {
  return new TesseraError(code, message, { oauthError: code });
}

/** The scope granted: the requested one if it is a subset of `allowed`, else all of it. */
export function grantScope(allowed: readonly string[], requested: string | undefined): string[] {
  if (requested === undefined) return [...allowed];
  const scope = parseScope(requested);
  for (const s of scope) {
    if (!allowed.includes(s))
      throw oauth("invalid_scope", "The requested scope exceeds what was granted.");
  }
  return scope;
}

/** The client must be registered for the grant it uses. */
export function requireGrant(client: ClientRecord, grant: ClientRecord["grants"][number]): void {
  if (!client.grants.includes(grant))
    throw oauth("unauthorized_client", `This client may not use ${grant}.`);
}

/** The successful token response: the access token, its scope, and what else was issued. */
export function respond(
  access: { token: string; expiresIn: number },
  scope: string[],
  extra: { refreshToken?: string; fingerprint?: string; idToken?: string | undefined } = {},
): TokenResult {
  const body: TokenResponse = {
    access_token: access.token,
    token_type: "Bearer",
    expires_in: access.expiresIn,
  };
  if (scope.length > 0) body.scope = scope.join(" ");
  if (extra.refreshToken !== undefined) body.refresh_token = extra.refreshToken;
  if (extra.idToken !== undefined) body.id_token = extra.idToken;
  const result: TokenResult = { body };
  if (extra.fingerprint !== undefined)
    result.fingerprint = { value: extra.fingerprint, maxAge: access.expiresIn };
  return result;
}

/** The ID token of a grant, when the client is an OIDC client granted `openid`. */
export async function idTokenFor(
  deps: TokenEndpointDeps,
  input: IdTokenInput,
): Promise<string | undefined> {
  if (deps.idTokens === undefined || !IdTokens.wanted(input.client, input.scope)) return undefined;
  return deps.idTokens.issue(input);
}

/** A fingerprint: the `__Host-fgp` cookie value and the hash the token carries. */
export interface Fingerprint {
  value: string;
  hash: string;
}

/** A fresh fingerprint for a browser client: the cookie value and its hash for the token. */
export function fingerprintFor(client: ClientRecord): Fingerprint | undefined {
  if (!client.fingerprint) return undefined;
  const value = randomToken();
  return { value, hash: sha256(value) };
}

/**
 * After a grant is issued and recorded: the client, read again, must still be the one it
 * was issued for, with nothing revoked since (src/clients/current.ts). Otherwise a removal
 * or a narrowing ran meanwhile and its sweep may have missed this grant: the access token
 * is revoked, and so is the family when the client is gone or was registered anew, or
 * when the family is new (`fresh`: nobody will receive its refresh token). A narrowed
 * family lives on: the same refresh retried gets the same successor (grace window).
 */
export async function confirmClient(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  access: IssuedAccessToken,
  family?: { id: string; fresh: boolean },
): Promise<void> {
  const now = await deps.clients.find(client.id);
  if (unchangedSince(client, now)) return;
  await deps.refresh.killAccessToken(access.ref);
  const gone = now === undefined || now.generation !== client.generation;
  if (family !== undefined && (gone || family.fresh)) await deps.refresh.revokeFamily(family.id);
  throw oauth("invalid_grant", "The client changed while this request ran; try again.");
}
