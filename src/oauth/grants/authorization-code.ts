import { createHash } from "node:crypto";
import { NO_AUDIT } from "../../audit/recorder.js";
import { allowedScope, ofCurrentGeneration } from "../../clients/current.js";
import { safeEqual } from "../../crypto/random.js";
import { IdTokens } from "../../oidc/id-token.js";
import type { ClientRecord, UserRecord } from "../../store/types.js";
import type { IssuedAccessToken } from "../../tokens/access.js";
import { endedByUser } from "../../users/cutoff.js";
import type { FormParams } from "../client-auth.js";
import { CODE_RECORD_TTL_MS, type CodeData } from "../codes.js";
import type { TokenEndpointDeps, TokenResult } from "../token.js";
import { recordIssued } from "../token-audit.js";
import {
  confirmClient,
  type Fingerprint,
  fingerprintFor,
  idTokenFor,
  oauth,
  requireGrant,
  respond,
} from "./shared.js";

/** RFC 7636 §4.1: 43–128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/** What the client presents with its code: the code, its redirect_uri and PKCE verifier. */
interface PresentedCode {
  code: string;
  redirectUri: string;
  verifier: string;
}

/** RFC 6749 §4.1.3 with RFC 7636 PKCE (S256). */
export async function authorizationCode(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  params: FormParams,
): Promise<TokenResult> {
  requireGrant(client, "authorization_code");
  const presented = presentedCode(params);
  const data = await redeemCode(deps, client, presented.code);
  checkCode(client, data, presented);
  const user = await authorizingUser(deps, data);
  return issueTokens(deps, client, user, data);
}

/** The request's code, redirect_uri and code_verifier: each present, the verifier well-formed. */
function presentedCode(params: FormParams): PresentedCode {
  const { code, redirect_uri: redirectUri, code_verifier: verifier } = params;
  if (code === undefined) throw oauth("invalid_request", "Missing code.");
  if (redirectUri === undefined) throw oauth("invalid_request", "Missing redirect_uri.");
  if (verifier === undefined)
    throw oauth("invalid_request", "Missing code_verifier (PKCE is required).");
  if (!CODE_VERIFIER.test(verifier)) throw oauth("invalid_request", "Malformed code_verifier.");
  return { code, redirectUri, verifier };
}

/** Consumes this client's code and returns what it was issued for; a replay revokes its grant. */
async function redeemCode(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  code: string,
): Promise<CodeData> {
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
  return redemption.data;
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

/** The redeemed code must be this registration's, for this redirect_uri, and pass PKCE. */
function checkCode(client: ClientRecord, data: CodeData, presented: PresentedCode): void {
  const { redirectUri, verifier } = presented;
  if (data.clientId !== client.id || !ofCurrentGeneration(client, data.clientGeneration))
    throw oauth("invalid_grant", "The code was issued to another client.");
  if (data.redirectUri !== redirectUri)
    throw oauth("invalid_grant", "redirect_uri does not match the authorization request.");
  if (!client.redirectUris.includes(redirectUri))
    throw oauth("invalid_grant", "The redirect_uri is no longer registered for this client.");
  const challenge = createHash("sha256").update(verifier, "ascii").digest("base64url");
  if (!safeEqual(challenge, data.codeChallenge))
    throw oauth("invalid_grant", "PKCE verification failed.");
}

/** The user the code was issued for, unless a cutoff since the sign-in ended the authorization. */
async function authorizingUser(deps: TokenEndpointDeps, data: CodeData): Promise<UserRecord> {
  // The authorization is as old as the sign-in it came from: a user cutoff after that
  // sign-in ends it. The user read here is also the cutoff the tokens are minted under.
  const user = await deps.users.findUserById(data.userId);
  if (user === undefined || endedByUser(user, { ms: data.authTime })) {
    throw oauth("invalid_grant", "The authorization is no longer valid.");
  }
  return user;
}

/** Issues the checked code's tokens, confirms them against concurrent changes, and answers. */
async function issueTokens(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  user: UserRecord,
  data: CodeData,
): Promise<TokenResult> {
  const fgp = fingerprintFor(client);
  // What the client may still hand out: a scope taken from it since the code was issued
  // is not granted (the response's `scope` says so, RFC 6749 §5.1).
  const scope = allowedScope(client, data.scope);
  if (IdTokens.wanted(client, scope)) deps.idTokens?.assertCanSign(client);
  const { family, access } = await issueInFamily(deps, client, user, scope, data.familyId, fgp);
  await confirmClient(deps, client, access, { id: family.id, fresh: true });
  await confirmUser(deps, user.id, data.authTime, family.id);
  await confirmConsent(deps, client, user.id, scope, family.id);
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

/** Starts the authorization's family and issues the access token recorded in it. */
async function issueInFamily(
  deps: TokenEndpointDeps,
  client: ClientRecord,
  user: UserRecord,
  scope: string[],
  familyId: string | undefined,
  fgp: Fingerprint | undefined,
): Promise<{ family: { id: string; token: string }; access: IssuedAccessToken }> {
  // Every authorization gets a family, with or without a refresh token for the client:
  // the family is what records the access tokens, so that revoking the user's grants
  // (password change, log out everywhere, disable, consent withdrawn) reaches them.
  // It is made under the id the code carries, which a replay of the code revokes — also
  // in advance, when the replay overtakes this exchange: then the family is refused here,
  // or the access token when it is recorded, and nothing is handed out.
  const family = await deps.refresh.start(client, user.id, scope, familyId);
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
  return { family: { id: family.family.id, token: family.token }, access };
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
