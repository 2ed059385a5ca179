import { createHash, randomBytes } from "node:crypto";
import type { TestServer } from "../support/harness.js";

export const API = "https://api.example.com";
export const REDIRECT = "https://app.example.com/callback";
export const FORM = { "content-type": "application/x-www-form-urlencoded" };

export const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** Registers "third": a public client that needs consent, with these redirect URIs. */
export async function addThirdParty(s: TestServer, redirectUris: string[]): Promise<void> {
  await s.tessera.clients.add({
    id: "third",
    grants: ["authorization_code"],
    audience: [API],
    scopes: ["read"],
    redirectUris,
    public: true,
  });
}

/** The path and query of an authorization request (code + PKCE S256) of "third". */
export function thirdPartyAuthorizePath(redirectUri: string): string {
  return `/oauth/authorize?${new URLSearchParams({
    response_type: "code",
    client_id: "third",
    redirect_uri: redirectUri,
    state: "s",
    code_challenge: pkce().challenge,
    code_challenge_method: "S256",
  })}`;
}

/**
 * A code for alice, as the authorization endpoint would issue it: for a client that needs
 * consent, after alice consented to the scope (remembered, as the endpoint does).
 */
export async function codeFor(
  s: TestServer,
  clientId: string,
  options: { scope?: string[]; redirectUri?: string } = {},
): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const user = await s.tessera.users.require("alice");
  const client = await s.tessera.clients.find(clientId);
  const scope = options.scope ?? ["read", "write"];
  if (client !== undefined && !client.firstParty) {
    const previous = await s.tessera.consents.findConsent(user.id, clientId);
    await s.tessera.consents.putConsent({
      userId: user.id,
      clientId,
      scopes: [...new Set([...(previous?.scopes ?? []), ...scope])],
      grantedAt: s.clock.now(),
      clientGeneration: client.generation,
    });
  }
  const code = await s.tessera.codes.issue({
    clientId,
    userId: user.id,
    redirectUri: options.redirectUri ?? REDIRECT,
    codeChallenge: challenge,
    scope,
    authTime: s.clock.now(),
  });
  return { code, verifier };
}

export function post(
  s: TestServer,
  url: string,
  body: Record<string, string>,
  headers: Record<string, string> = {},
) {
  return s.app.inject({
    method: "POST",
    url,
    headers: { ...FORM, ...headers },
    payload: new URLSearchParams(body).toString(),
  });
}

export const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString());
