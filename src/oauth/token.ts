import { createHash } from "node:crypto";
import { type AuditRecorder, clientActor, NO_AUDIT } from "../audit/recorder.js";
import type { Clients } from "../clients/clients.js";
import { parseScope } from "../clients/clients.js";
import { allowedScope, ofCurrentGeneration, unchangedSince } from "../clients/current.js";
import type { Clock } from "../clock.js";
import { randomToken, safeEqual, sha256 } from "../crypto/random.js";
import { TesseraError } from "../errors.js";
import { type IdTokenInput, IdTokens } from "../oidc/id-token.js";
import type { IdTokenStep } from "../oidc/token-step.js";
import type { ClientRecord, ConsentStore, UserStore } from "../store/types.js";
import type { AccessTokens, IssuedAccessToken } from "../tokens/access.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import { endedByUser } from "../users/cutoff.js";
import { authenticateClient, type FormParams } from "./client-auth.js";
import { type AuthorizationCodes, CODE_RECORD_TTL_MS, type CodeData } from "./codes.js";
import { recordIssued } from "./token-audit.js";

/** RFC 6749 §5.1 successful token response. */
export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  /** OpenID Connect: for an OIDC client granted `openid` (src/oidc/id-token.ts). */
  id_token?: string;
}

export interface TokenResult {
  body: TokenResponse;
  /** For fingerprint-bound clients: the `__Host-fgp` cookie value to set. */
  fingerprint?: { value: string; maxAge: number };
}

export interface TokenEndpointDeps {
  clients: Clients;
  users: UserStore;
  consents: ConsentStore;
  codes: AuthorizationCodes;
  access: AccessTokens;
  refresh: RefreshTokens;
  clock: Clock;
  /** OpenID Connect's step: an ID token beside the access token, where one is wanted. */
  idTokens?: IdTokenStep;
  /** The audit trail: each token issued, a refresh token's reuse (never a token). */
  audit?: AuditRecorder;
}

type OAuthCode =
  | "invalid_request"
  | "invalid_grant"
  | "invalid_scope"
  | "unauthorized_client"
  | "unsupported_grant_type";

function oauth(code: OAuthCode, message: string) {
  return new TesseraError(code, message, { oauthError: code });
}

/** RFC 7636 §4.1: 43–128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

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

/** POST /oauth/token: authenticate the client, then run the grant's steps. */
export async function tokenEndpoint(
  deps: TokenEndpointDeps,
  authorization: string | undefined,
  params: FormParams,
): Promise<TokenResult> {
  const grantType = params.grant_type;
  if (grantType === undefined) throw oauth("invalid_request", "Missing grant_type.");
  const publicAllowed = grantType === "authorization_code" || grantType === "refresh_token";
  const client = await authenticateClient(deps.clients, authorization, params, publicAllowed);
  switch (grantType) {
    case "client_credentials":
      return clientCredentials(deps, client, params);
    case "authorization_code":
      return authorizationCode(deps, client, params);
    case "refresh_token":
      return refreshToken(deps, client, params);
    default:
      throw oauth("unsupported_grant_type", "Unsupported grant_type.");
  }
}

function requireGrant(client: ClientRecord, grant: ClientRecord["grants"][number]): void {
  if (!client.grants.includes(grant))
    throw oauth("unauthorized_client", `This client may not use ${grant}.`);
}

function respond(
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
async function idTokenFor(
  deps: TokenEndpointDeps,
  input: IdTokenInput,
): Promise<string | undefined> {
  if (deps.idTokens === undefined || !IdTokens.wanted(input.client, input.scope)) return undefined;
  return deps.idTokens.issue(input);
}

/** A fresh fingerprint for a browser client: the cookie value and its hash for the token. */
function fingerprintFor(client: ClientRecord): { value: string; hash: string } | undefined {
  if (!client.fingerprint) return undefined;
  const value = randomToken();
  return { value, hash: sha256(value) };
}

async function clientCredentials(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  params: FormParams,
) {
  requireGrant(client, "client_credentials");
  const scope = grantScope(client.scopes, params.scope);
  const fgp = fingerprintFor(client);
  const access = await deps.access.issue({
    client,
    sub: client.id,
    scope,
    ...(fgp === undefined ? {} : { fgp: fgp.hash }),
  });
  await confirmClient(deps, client, access);
  await recordIssued(deps.audit ?? NO_AUDIT, client, "client_credentials", {
    access,
    scope,
    refresh: false,
    id: false,
  });
  return respond(access, scope, fgp === undefined ? {} : { fingerprint: fgp.value });
}

/**
 * After a grant is issued and recorded: the client, read again, must still be the one it
 * was issued for, with nothing revoked since (src/clients/current.ts). Otherwise a removal
 * or a narrowing ran meanwhile and its sweep may have missed this grant: the access token
 * is revoked, and so is the family when the client is gone or was registered anew, or
 * when the family is new (`fresh`: nobody will receive its refresh token). A narrowed
 * family lives on: the same refresh retried gets the same successor (grace window).
 */
async function confirmClient(
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

/**
 * After a new grant is recorded: the user, read again, must not have ended it meanwhile (a
 * cutoff after the sign-in the code came from). A cutoff records itself in the user before
 * it sweeps the user's families, so either its sweep found this family, or this read sees
 * the cutoff and the family is revoked here, with the access token recorded in it.
 */
async function confirmUser(
  deps: TokenEndpointDeps,
  userId: string,
  authTime: number,
  familyId: string,
): Promise<void> {
  const now = await deps.users.findUserById(userId);
  if (now !== undefined && !endedByUser(now, { ms: authTime })) return;
  await deps.refresh.revokeFamily(familyId);
  throw oauth("invalid_grant", "The authorization is no longer valid.");
}

/**
 * After a new grant is recorded: a client that needs consent must still have it, for every
 * scope granted. Withdrawing consent (DELETE /consents/:clientId) forgets it before it
 * sweeps the user's families for the client, so a code issued before the withdrawal is
 * caught either by that sweep or by this read.
 */
async function confirmConsent(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  userId: string,
  scope: readonly string[],
  familyId: string,
): Promise<void> {
  if (client.firstParty) return;
  const consent = await deps.consents.findConsent(userId, client.id);
  if (
    consent !== undefined &&
    ofCurrentGeneration(client, consent.clientGeneration) &&
    scope.every((s) => consent.scopes.includes(s))
  ) {
    return;
  }
  await deps.refresh.revokeFamily(familyId);
  throw oauth("invalid_grant", "The user withdrew consent for this application.");
}

/** RFC 6749 §4.1.3 with RFC 7636 PKCE (S256). */
async function authorizationCode(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  params: FormParams,
) {
  requireGrant(client, "authorization_code");
  const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
  if (code === undefined) throw oauth("invalid_request", "Missing code.");
  if (redirectUri === undefined) throw oauth("invalid_request", "Missing redirect_uri.");
  if (verifier === undefined)
    throw oauth("invalid_request", "Missing code_verifier (PKCE is required).");
  if (!CODE_VERIFIER.test(verifier)) throw oauth("invalid_request", "Malformed code_verifier.");

  // Whoever presents a code must be the client it was issued to, before anything is
  // consumed: another client (a leaked code) must neither burn it nor trigger the
  // replay revocation of the legitimate client's tokens.
  const peeked = await deps.codes.peek(code);
  if (peeked !== undefined && peeked.clientId !== client.id) {
    throw oauth("invalid_grant", "The code was issued to another client.");
  }
  const redemption = await deps.codes.redeem(code);
  if (redemption.kind === "reused") {
    // A code used twice: whatever the first exchange issued is revoked (RFC 6749 §4.1.2).
    await revokeIssuedFromCode(deps, redemption.data);
    throw oauth("invalid_grant", "The authorization code was already used.");
  }
  if (redemption.kind === "invalid")
    throw oauth("invalid_grant", "Invalid or expired authorization code.");
  const data = redemption.data;
  if (data.clientId !== client.id || !ofCurrentGeneration(client, data.clientGeneration))
    throw oauth("invalid_grant", "The code was issued to another client.");
  if (data.redirectUri !== redirectUri)
    throw oauth("invalid_grant", "redirect_uri does not match the authorization request.");
  if (!client.redirectUris.includes(redirectUri))
    throw oauth("invalid_grant", "The redirect_uri is no longer registered for this client.");
  const challenge = createHash("sha256").update(verifier, "ascii").digest("base64url");
  if (!safeEqual(challenge, data.codeChallenge))
    throw oauth("invalid_grant", "PKCE verification failed.");
  // The authorization is as old as the sign-in it came from: a user cutoff after that
  // sign-in ends it. The user read here is also the cutoff the tokens are minted under.
  const user = await deps.users.findUserById(data.userId);
  if (user === undefined || endedByUser(user, { ms: data.authTime })) {
    throw oauth("invalid_grant", "The authorization is no longer valid.");
  }

  const fgp = fingerprintFor(client);
  // What the client may still hand out: a scope taken from it since the code was issued
  // is not granted (the response's `scope` says so, RFC 6749 §5.1).
  const scope = allowedScope(client, data.scope);
  if (IdTokens.wanted(client, scope)) deps.idTokens?.assertCanSign(client);
  // Every authorization gets a family, with or without a refresh token for the client:
  // the family is what records the access tokens, so that revoking the user's grants
  // (password change, log out everywhere, disable, consent withdrawn) reaches them.
  // It is made under the id the code carries, which a replay of the code revokes — also
  // in advance, when the replay overtakes this exchange: then the family is refused here,
  // or the access token when it is recorded, and nothing is handed out.
  const family = await deps.refresh.start(client, user.id, scope, data.familyId);
  if (family === undefined) throw oauth("invalid_grant", "The authorization was revoked.");
  const access = await deps.access.issue({
    client,
    sub: user.id,
    user,
    scope,
    familyId: family.family.id,
    ...(fgp === undefined ? {} : { fgp: fgp.hash }),
  });
  if (!(await deps.refresh.recordAccessToken(family.family.id, access.ref))) {
    throw oauth("invalid_grant", "The authorization was revoked.");
  }
  await confirmClient(deps, client, access, { id: family.family.id, fresh: true });
  await confirmUser(deps, user.id, data.authTime, family.family.id);
  await confirmConsent(deps, client, user.id, scope, family.family.id);
  const idToken = await idTokenFor(deps, {
    client,
    user,
    scope,
    accessToken: access.token,
    nonce: data.nonce,
    authTime: data.authTime,
    sid: data.sid,
  });
  const refresh = client.grants.includes("refresh_token");
  await recordIssued(deps.audit ?? NO_AUDIT, client, "authorization_code", {
    userId: user.id,
    access,
    scope,
    refresh,
    id: idToken !== undefined,
  });
  return respond(access, scope, {
    ...(refresh ? { refreshToken: family.token } : {}),
    ...(fgp === undefined ? {} : { fingerprint: fgp.value }),
    idToken,
  });
}

/**
 * Revokes the family of a replayed code, whether its first exchange made it already or
 * not yet: a family not made yet is refused for as long as the code's record lives (the
 * first exchange took the code within its 60 s and makes the family right after).
 */
async function revokeIssuedFromCode(deps: TokenEndpointDeps, data: CodeData): Promise<void> {
  if (data.familyId === undefined) return;
  await deps.refresh.revokeFamily(data.familyId, { inAdvanceMs: CODE_RECORD_TTL_MS });
}

/** RFC 6749 §6 with rotation (RFC 9700 §4.14.2). */
async function refreshToken(deps: TokenEndpointDeps, client: ClientRecord, params: FormParams) {
  requireGrant(client, "refresh_token");
  const presented = params.refresh_token;
  if (presented === undefined) throw oauth("invalid_request", "Missing refresh_token.");
  // Checked before rotating: another client's token is refused without touching it.
  const found = await deps.refresh.lookup(presented);
  if (found === undefined || found.family.clientId !== client.id) {
    throw oauth("invalid_grant", "Invalid refresh token.");
  }
  // A family given to an earlier registration of this client id is not this client's.
  if (!ofCurrentGeneration(client, found.family.clientGeneration)) {
    await deps.refresh.revokeFamily(found.family.id);
    throw oauth("invalid_grant", "Invalid refresh token.");
  }
  // At most what the family was granted and the client may still hand out.
  const scope = grantScope(allowedScope(client, found.family.scope), params.scope);
  if (IdTokens.wanted(client, scope)) deps.idTokens?.assertCanSign(client);
  // A family is as old as its authorization: one created before the user's cutoff is
  // ended by it (even if no revocation reached this store), one created at or after it
  // lives on. The user read here is also the cutoff the new access token is minted under.
  const user = await deps.users.findUserById(found.family.userId);
  if (user === undefined || endedByUser(user, { ms: found.family.createdAt })) {
    await deps.refresh.revokeFamily(found.family.id);
    throw oauth("invalid_grant", "The authorization is no longer valid.");
  }
  const outcome = await deps.refresh.rotate(presented);
  if (outcome.kind === "reused") {
    await (deps.audit ?? NO_AUDIT).record({
      type: "refresh_reuse_detected",
      actor: clientActor(client.id),
      clientId: client.id,
      userId: found.family.userId,
      reason: "family_revoked",
    });
    throw oauth("invalid_grant", "Refresh token reuse detected; the grant is revoked.");
  }
  if (outcome.kind === "invalid") throw oauth("invalid_grant", "Invalid or expired refresh token.");
  const fgp = fingerprintFor(client);
  const access = await deps.access.issue({
    client,
    sub: user.id,
    user,
    scope,
    familyId: outcome.family.id,
    ...(fgp === undefined ? {} : { fgp: fgp.hash }),
  });
  if (!(await deps.refresh.recordAccessToken(outcome.family.id, access.ref))) {
    throw oauth("invalid_grant", "The grant was revoked.");
  }
  await confirmClient(deps, client, access, { id: outcome.family.id, fresh: false });
  // Core §12.2: no nonce; auth_time is not known here (the family keeps no sign-in time).
  const idToken = await idTokenFor(deps, { client, user, scope, accessToken: access.token });
  await recordIssued(deps.audit ?? NO_AUDIT, client, "refresh_token", {
    userId: user.id,
    access,
    scope,
    refresh: true,
    id: idToken !== undefined,
  });
  return respond(access, scope, {
    refreshToken: outcome.token,
    ...(fgp === undefined ? {} : { fingerprint: fgp.value }),
    idToken,
  });
}
