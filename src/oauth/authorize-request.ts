import type { Clients } from "../clients/clients.js";
import { parseScope } from "../clients/clients.js";
import { isTesseraError } from "../errors.js";
import { OIDC_PARAMS, parseOidcParams, parseResponseMode } from "../oidc/request.js";
import { hasSha256Shape } from "../shared/sha256-shape.js";
import type { ClientRecord } from "../store/types.js";
import { errorRedirect } from "./authorize-response.js";
import type { AuthorizationRequest, ShownError, Validation } from "./authorize-types.js";

/**
 * `state` is echoed to the client and stored with a pending request: bounded so a
 * redirect stays a sane size and a stored request small.
 */
export const MAX_STATE_LENGTH = 1024;

/** The parameters of RFC 6749 §4.1.1 and RFC 7636 §4.3 that this endpoint reads. */
const PARAMS = [
  "response_type",
  "client_id",
  "redirect_uri",
  "scope",
  "state",
  "code_challenge",
  "code_challenge_method",
  ...OIDC_PARAMS,
] as const;

/** An error shown to the user, never redirected (see `ShownError`). */
export function show(error: ShownError["error"], description: string): ShownError {
  return { kind: "show", error, description };
}

/**
 * The client and the redirect URI, checked before anything else: until both are known
 * good, no error may be redirected. Exact string comparison against the registered
 * URIs (RFC 9700 §4.1.3): no normalisation, no prefix or pattern matching.
 */
export function checkClient(
  client: ClientRecord | undefined,
  redirectUri: string | undefined,
): ShownError | undefined {
  if (client === undefined) return show("invalid_request", "Unknown client.");
  if (redirectUri === undefined) return show("invalid_request", "Missing redirect_uri.");
  if (!client.redirectUris.includes(redirectUri)) {
    return show("invalid_request", "The redirect_uri is not registered for this client.");
  }
  if (!client.grants.includes("authorization_code")) {
    return show("unauthorized_client", "This client may not use the authorization code flow.");
  }
  return undefined;
}

/**
 * Validates the query of GET /oauth/authorize (RFC 6749 §4.1.1, RFC 7636, RFC 9700; the
 * errors that may be redirected carry `issuer` as RFC 9207 `iss`). `params` are the parsed
 * query values: strings, or arrays when a parameter was repeated. Empty values count as
 * absent (RFC 6749 §3.1); unknown parameters are ignored.
 */
export async function validateRequest(
  params: Readonly<Record<string, unknown>>,
  clients: Pick<Clients, "find">,
  issuer: string,
): Promise<Validation> {
  const p: Partial<Record<(typeof PARAMS)[number], string>> = {};
  for (const name of PARAMS) {
    const v = Object.hasOwn(params, name) ? params[name] : undefined;
    if (v === undefined || v === "") continue;
    // Repeated (RFC 6749 §3.1): which client_id or redirect_uri was meant is unknowable.
    if (typeof v !== "string") return show("invalid_request", `Parameter ${name} is repeated.`);
    p[name] = v;
  }
  if (p.client_id === undefined) return show("invalid_request", "Missing client_id.");
  const client = p.client_id.length > 128 ? undefined : await clients.find(p.client_id);
  const bad = checkClient(client, p.redirect_uri);
  if (bad !== undefined || client === undefined || p.redirect_uri === undefined) {
    return bad ?? show("invalid_request", "Invalid client.");
  }
  const redirectUri = p.redirect_uri;
  const state = p.state;
  if (state !== undefined && state.length > MAX_STATE_LENGTH) {
    return errorRedirect(issuer, redirectUri, undefined, "invalid_request", "state is too long.");
  }
  const mode = parseResponseMode(p.response_mode);
  if (!mode.ok) {
    return errorRedirect(issuer, redirectUri, state, "invalid_request", mode.description);
  }
  const fail = (error: string, description: string) =>
    errorRedirect(issuer, redirectUri, state, error, description, mode.value);

  if (p.response_type === undefined) return fail("invalid_request", "Missing response_type.");
  if (p.response_type !== "code") {
    return fail("unsupported_response_type", "Only response_type=code is supported.");
  }
  // PKCE is required of every client, S256 only (RFC 9700 §2.1.1, RFC 7636 §4.4.1).
  if (p.code_challenge === undefined) {
    return fail("invalid_request", "PKCE is required: missing code_challenge.");
  }
  if (p.code_challenge_method !== "S256") {
    return fail("invalid_request", "code_challenge_method must be S256.");
  }
  if (!hasSha256Shape(p.code_challenge)) {
    return fail("invalid_request", "code_challenge must be 43 base64url characters.");
  }
  let scope: string[];
  try {
    scope = p.scope === undefined ? [...client.scopes] : parseScope(p.scope);
  } catch (err) {
    if (isTesseraError(err)) return fail("invalid_scope", "Malformed scope.");
    throw err;
  }
  if (scope.some((s) => !client.scopes.includes(s))) {
    return fail("invalid_scope", "The requested scope exceeds the client's.");
  }
  const oidc = parseOidcParams(p);
  if (!oidc.ok) return fail("invalid_request", oidc.description);
  const request: AuthorizationRequest = {
    clientId: client.id,
    redirectUri,
    codeChallenge: p.code_challenge,
    scope,
    clientGeneration: client.generation,
  };
  if (state !== undefined) request.state = state;
  if (mode.value === "form_post") request.responseMode = "form_post";
  if (Object.keys(oidc.value).length > 0) request.oidc = oidc.value;
  return { kind: "ok", client, request };
}
