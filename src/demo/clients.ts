/**
 * The clients `serve --demo` registers for its own pages: real registrations, so the demo's
 * tokens are issued, introspected and revoked by the same rules as anyone's. Each start
 * registers them anew (fresh secrets, held in this process only; the previous ones and
 * everything they were given end), so a changed port or issuer never leaves a stale one.
 */
import type { NewClient } from "../clients/clients.js";
import type { Tessera } from "../tessera.js";

/** The demo API's audience (its `aud`); the demo's tokens are issued for it. */
export const DEMO_SCOPE = "demo:read";

export const DEMO_CLIENTS = {
  /** Gets the demo JWT: fingerprint-bound, as a browser client's token is. */
  jwt: "tessera-demo-jwt",
  /** Gets the demo opaque token. */
  opaque: "tessera-demo-opaque",
  /** The demo API (a resource server): introspects and follows the revocation feed. */
  api: "tessera-demo-api",
  /** The BFF mounted in the demo (authorization code, confidential, first-party). */
  bff: "tessera-demo-bff",
} as const;

export type DemoClientName = keyof typeof DEMO_CLIENTS;

/** The demo API's audience for an issuer. */
export function demoAudience(issuer: string): string {
  return `${issuer.replace(/\/$/, "")}/demo/api`;
}

function registrations(publicOrigin: string, audience: string): Record<DemoClientName, NewClient> {
  const common = { audience: [audience], scopes: [DEMO_SCOPE] };
  return {
    jwt: {
      id: DEMO_CLIENTS.jwt,
      grants: ["client_credentials"],
      tokenFormat: "jwt",
      fingerprint: true,
      ...common,
    },
    opaque: {
      id: DEMO_CLIENTS.opaque,
      grants: ["client_credentials"],
      tokenFormat: "opaque",
      ...common,
    },
    api: { id: DEMO_CLIENTS.api, grants: ["client_credentials"], introspect: true, ...common },
    bff: {
      id: DEMO_CLIENTS.bff,
      grants: ["authorization_code", "refresh_token"],
      redirectUris: [`${publicOrigin}/bff/callback`],
      firstParty: true,
      introspect: true,
      ...common,
    },
  };
}

/** Registers the demo clients anew; returns each one's secret (this process only). */
export async function registerDemoClients(
  tessera: Tessera,
  publicOrigin: string,
  audience: string,
): Promise<Record<DemoClientName, string>> {
  const wanted = registrations(publicOrigin, audience);
  const secrets = {} as Record<DemoClientName, string>;
  for (const name of Object.keys(wanted) as DemoClientName[]) {
    const input = wanted[name];
    if ((await tessera.clients.find(input.id)) !== undefined) await tessera.removeClient(input.id);
    const { secret } = await tessera.clients.add(input);
    if (secret === undefined) throw new Error(`demo client ${input.id} has no secret`);
    secrets[name] = secret;
  }
  return secrets;
}

/** `Authorization: Basic` for a client (RFC 6749 §2.3.1: form-urlencoded id and secret). */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString("base64")}`;
}
