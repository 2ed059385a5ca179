import type { Clients } from "../clients/clients.js";
import { parseScope } from "../clients/clients.js";
import { allowedScope, ofCurrentGeneration } from "../clients/current.js";
import type { Clock } from "../clock.js";
import { safeEqual, sha256 } from "../crypto/random.js";
import type { SecretTokens } from "../crypto/token-format.js";
import { isTesseraError } from "../errors.js";
import type { Nonces } from "../oidc/nonces.js";
import {
  needsAuthentication,
  OIDC_PARAMS,
  type OidcRequest,
  parseOidcParams,
  parseResponseMode,
  type ResponseMode,
} from "../oidc/request.js";
import { hasSha256Shape } from "../shared/sha256-shape.js";
import type { ClientRecord, Collection, ConsentRecord, ConsentStore } from "../store/types.js";
import type { AuthorizationCodes } from "./codes.js";

/** A pending consent question lives this long. */
export const INTERACTION_TTL_MS = 10 * 60_000;
/**
 * Pending consent questions one session may have per client: a new authorization request
 * replaces the unanswered one (of two tabs, the later one's page is the one that works).
 */
export const PENDING_CONSENTS_PER_SESSION_AND_CLIENT = 1;
/**
 * `state` is echoed to the client and stored with a pending request: bounded so a
 * redirect stays a sane size and a stored request small.
 */
export const MAX_STATE_LENGTH = 1024;
/** An S256 challenge is BASE64URL(SHA-256(verifier)): exactly 43 characters. */
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

/** A valid authorization request, as stored while the user is asked. */
export interface AuthorizationRequest {
  clientId: string;
  redirectUri: string;
  /** Echoed verbatim; absent when the client sent none. */
  state?: string;
  codeChallenge: string;
  scope: string[];
  /** The client's `generation` when the request was made (src/clients/current.ts). */
  clientGeneration?: string;
  /** `response_mode=form_post`; absent: query. */
  responseMode?: "form_post";
  /** OpenID Connect's parameters (src/oidc/request.ts), when given. */
  oidc?: OidcRequest;
}

/**
 * An error about the client or the redirect URI: the redirect URI cannot be trusted, so
 * the error is shown to the user and never sent anywhere (no open redirect).
 */
export interface ShownError {
  kind: "show";
  error: "invalid_request" | "unauthorized_client" | "interaction_invalid";
  description: string;
}

/** Where to send the browser: the client's redirect URI with a code or an error. */
export interface RedirectTo {
  kind: "redirect";
  /** With the parameters in its query; for form_post, the redirect URI as registered. */
  location: string;
  /** `response_mode=form_post`: the parameters, to be POSTed to `location` by the browser. */
  formPost?: Record<string, string>;
}

export type Validation =
  | { kind: "ok"; client: ClientRecord; request: AuthorizationRequest }
  | ShownError
  | RedirectTo;

/** What happens once the user is known. */
export type Continuation =
  | RedirectTo
  /** Ask the user: render the consent page with this single-use interaction id. */
  | { kind: "consent"; interactionId: string; client: ClientRecord; request: AuthorizationRequest }
  /** OpenID Connect `prompt=login` or `max_age`: the user must sign in again first. */
  | { kind: "login" };

/** The signed-in user, as far as the authorization endpoint cares. */
export interface Subject {
  userId: string;
  /** The session's store key: an interaction is bound to the session that saw the page. */
  sessionKey: string;
  /** When the user authenticated (epoch ms). */
  authTime: number;
  /** The session's public id (OpenID Connect `sid`). */
  sessionId?: string;
}

interface InteractionData {
  sessionKey: string;
  userId: string;
  request: AuthorizationRequest;
}

export interface AuthorizeDeps {
  clients: Pick<Clients, "find">;
  consents: ConsentStore;
  codes: Pick<AuthorizationCodes, "issue">;
  interactions: Collection<InteractionData>;
  /** Interaction ids are secrets (single use, bound to the session): tokens like any other. */
  secretTokens: SecretTokens;
  clock: Clock;
  /** RFC 9207 `iss`, added to every authorization response. */
  issuer: string;
  /** OpenID Connect: nonces are used once (src/oidc/nonces.ts). */
  nonces?: Nonces;
}

/**
 * Appends parameters to a redirect URI, leaving the registered URI (and its query)
 * exactly as it is (RFC 6749 §3.1.2: the query component must be retained).
 */
export function appendQuery(uri: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) query.append(k, v);
  const separator = !uri.includes("?") ? "?" : uri.endsWith("?") || uri.endsWith("&") ? "" : "&";
  return `${uri}${separator}${query.toString()}`;
}

/** The authorization response in the client's response mode. */
export function respond(
  redirectUri: string,
  mode: ResponseMode,
  params: Record<string, string | undefined>,
): RedirectTo {
  if (mode === "query") return { kind: "redirect", location: appendQuery(redirectUri, params) };
  const formPost: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) formPost[k] = v;
  return { kind: "redirect", location: redirectUri, formPost };
}

function show(error: ShownError["error"], description: string): ShownError {
  return { kind: "show", error, description };
}

/**
 * The client and the redirect URI, checked before anything else: until both are known
 * good, no error may be redirected. Exact string comparison against the registered
 * URIs (RFC 9700 §4.1.3): no normalisation, no prefix or pattern matching.
 */
function checkClient(
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
 * The authorization endpoint's domain (RFC 6749 §4.1, RFC 7636, RFC 9700, RFC 9207):
 * validates requests, decides whether the user must be asked, keeps the pending
 * question server-side, remembers consent and issues codes. No HTTP here.
 */
export class AuthorizationEndpoint {
  constructor(private readonly deps: AuthorizeDeps) {}

  /** Redirect to the client with `error` (RFC 6749 §4.1.2.1) and `state`, `iss`. */
  errorRedirect(
    redirectUri: string,
    state: string | undefined,
    error: string,
    description: string,
    mode: ResponseMode = "query",
  ): RedirectTo {
    return respond(redirectUri, mode, {
      error,
      error_description: description,
      state,
      iss: this.deps.issuer,
    });
  }

  /** An error about a valid request, answered in its response mode. */
  requestError(request: AuthorizationRequest, error: string, description: string): RedirectTo {
    return this.errorRedirect(
      request.redirectUri,
      request.state,
      error,
      description,
      request.responseMode ?? "query",
    );
  }

  /**
   * Nobody is signed in: `prompt=none` is answered `login_required` (OpenID Connect Core
   * §3.1.2.6) without a page; otherwise undefined (show the sign-in page).
   */
  withoutSession(request: AuthorizationRequest): RedirectTo | undefined {
    if (request.oidc?.prompt !== "none") return undefined;
    return this.requestError(request, "login_required", "The user is not signed in.");
  }

  /**
   * Validates the query of GET /oauth/authorize. `params` are the parsed query values:
   * strings, or arrays when a parameter was repeated. Empty values count as absent
   * (RFC 6749 §3.1); unknown parameters are ignored.
   */
  async validate(params: Readonly<Record<string, unknown>>): Promise<Validation> {
    const p: Partial<Record<(typeof PARAMS)[number], string>> = {};
    for (const name of PARAMS) {
      const v = Object.hasOwn(params, name) ? params[name] : undefined;
      if (v === undefined || v === "") continue;
      // Repeated (RFC 6749 §3.1): which client_id or redirect_uri was meant is unknowable.
      if (typeof v !== "string") return show("invalid_request", `Parameter ${name} is repeated.`);
      p[name] = v;
    }
    if (p.client_id === undefined) return show("invalid_request", "Missing client_id.");
    const client = p.client_id.length > 128 ? undefined : await this.deps.clients.find(p.client_id);
    const bad = checkClient(client, p.redirect_uri);
    if (bad !== undefined || client === undefined || p.redirect_uri === undefined) {
      return bad ?? show("invalid_request", "Invalid client.");
    }
    const redirectUri = p.redirect_uri;
    const state = p.state;
    if (state !== undefined && state.length > MAX_STATE_LENGTH) {
      return this.errorRedirect(redirectUri, undefined, "invalid_request", "state is too long.");
    }
    const mode = parseResponseMode(p.response_mode);
    if (!mode.ok) {
      return this.errorRedirect(redirectUri, state, "invalid_request", mode.description);
    }
    const fail = (error: string, description: string) =>
      this.errorRedirect(redirectUri, state, error, description, mode.value);

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

  /**
   * The user is known: first-party clients and remembered consent that covers the
   * request get a code at once; otherwise a pending interaction is stored (hashed,
   * bound to the session, single use, replacing the session's unanswered one for the
   * same client) and the user must be asked.
   */
  async proceed(
    subject: Subject,
    client: ClientRecord,
    request: AuthorizationRequest,
  ): Promise<Continuation> {
    const oidc = request.oidc ?? {};
    if (needsAuthentication(oidc, subject.authTime, this.deps.clock.now())) {
      return oidc.prompt === "none"
        ? this.requestError(request, "login_required", "The user must sign in again.")
        : { kind: "login" };
    }
    if (!client.firstParty) {
      const consent = await this.deps.consents.findConsent(subject.userId, client.id);
      if (oidc.prompt === "consent" || !covers(client, consent, request.scope)) {
        if (oidc.prompt === "none") {
          return this.requestError(request, "consent_required", "The user must consent first.");
        }
        const interactionId = this.deps.secretTokens.mint();
        await this.deps.interactions.upsert(
          sha256(interactionId),
          { sessionKey: subject.sessionKey, userId: subject.userId, request },
          {
            ttlMs: INTERACTION_TTL_MS,
            userId: subject.userId,
            cap: {
              group: sha256(`${subject.sessionKey}\n${client.id}`),
              max: PENDING_CONSENTS_PER_SESSION_AND_CLIENT,
            },
          },
        );
        return { kind: "consent", interactionId, client, request };
      }
    }
    return this.issue(subject, client, request);
  }

  /**
   * The user's answer to the consent page. The interaction must exist, belong to the
   * same session, and not have been answered before (consumed atomically). Approval is
   * remembered per (user, client), as the union with what was granted before.
   */
  async decide(
    subject: Subject,
    interactionId: string,
    approve: boolean,
  ): Promise<RedirectTo | ShownError> {
    const gone = show(
      "interaction_invalid",
      "This request expired, was already answered, or a newer request for this application replaced it.",
    );
    if (!this.deps.secretTokens.isOurs(interactionId)) return gone;
    const key = sha256(interactionId);
    const found = await this.deps.interactions.find(key);
    // Checked before consuming, so another session cannot burn the user's interaction.
    if (found === undefined || !safeEqual(found.value.sessionKey, subject.sessionKey)) return gone;
    const record = await this.deps.interactions.consume(key);
    if (record === undefined || record.consumedAt !== undefined) return gone;
    const { request } = record.value;
    // The client may have changed in the meantime: check it again before redirecting. A
    // client removed and added again under the same id is not the one the user was shown.
    const client = await this.deps.clients.find(request.clientId);
    const bad = checkClient(client, request.redirectUri);
    if (bad !== undefined || client === undefined) return bad ?? gone;
    if (!ofCurrentGeneration(client, request.clientGeneration)) return gone;
    if (!approve) {
      return this.requestError(request, "access_denied", "The user denied the request.");
    }
    if (request.scope.some((s) => !client.scopes.includes(s))) {
      return this.requestError(
        request,
        "invalid_scope",
        "The requested scope exceeds the client's.",
      );
    }
    // What was granted before counts only if given to this registration, and only as far
    // as the client may still ask for it.
    const previous = await this.deps.consents.findConsent(subject.userId, client.id);
    const kept =
      previous !== undefined && ofCurrentGeneration(client, previous.clientGeneration)
        ? allowedScope(client, previous.scopes)
        : [];
    await this.deps.consents.putConsent({
      userId: subject.userId,
      clientId: client.id,
      scopes: [...new Set([...kept, ...request.scope])],
      grantedAt: this.deps.clock.now(),
      clientGeneration: client.generation,
    });
    return this.issue(subject, client, request);
  }

  private async issue(
    subject: Subject,
    client: ClientRecord,
    request: AuthorizationRequest,
  ): Promise<RedirectTo> {
    const nonce = request.oidc?.nonce;
    if (nonce !== undefined && this.deps.nonces !== undefined) {
      if (!(await this.deps.nonces.use(client.id, subject.userId, nonce))) {
        return this.requestError(request, "invalid_request", "This nonce was already used.");
      }
    }
    const code = await this.deps.codes.issue({
      clientId: request.clientId,
      userId: subject.userId,
      redirectUri: request.redirectUri,
      codeChallenge: request.codeChallenge,
      scope: request.scope,
      authTime: subject.authTime,
      clientGeneration: client.generation,
      ...(request.oidc?.nonce === undefined ? {} : { nonce: request.oidc.nonce }),
      ...(subject.sessionId === undefined ? {} : { sid: subject.sessionId }),
    });
    return respond(request.redirectUri, request.responseMode ?? "query", {
      code,
      state: request.state,
      iss: this.deps.issuer,
    });
  }
}

/** A remembered consent, given to this registration of the client, covers the request. */
function covers(
  client: ClientRecord,
  consent: ConsentRecord | undefined,
  scope: readonly string[],
): boolean {
  return (
    consent !== undefined &&
    ofCurrentGeneration(client, consent.clientGeneration) &&
    scope.every((s) => consent.scopes.includes(s))
  );
}
