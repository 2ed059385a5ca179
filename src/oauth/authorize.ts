import { type AuditRecorder, NO_AUDIT, userActor } from "../audit/recorder.js";
import type { Clients } from "../clients/clients.js";
import { allowedScope, ofCurrentGeneration } from "../clients/current.js";
import type { Clock } from "../clock.js";
import { safeEqual, sha256 } from "../crypto/random.js";
import type { SecretTokens } from "../crypto/token-format.js";
import type { Nonces } from "../oidc/nonces.js";
import { needsAuthentication, type ResponseMode } from "../oidc/request.js";
import type { ClientRecord, Collection, ConsentRecord, ConsentStore } from "../store/types.js";
import { checkClient, show, validateRequest } from "./authorize-request.js";
import { errorRedirect, respond } from "./authorize-response.js";
import type {
  AuthorizationRequest,
  Continuation,
  RedirectTo,
  ShownError,
  Subject,
  Validation,
} from "./authorize-types.js";
import type { AuthorizationCodes } from "./codes.js";

export { MAX_STATE_LENGTH } from "./authorize-request.js";
export { appendQuery, respond } from "./authorize-response.js";
export type {
  AuthorizationRequest,
  Continuation,
  RedirectTo,
  ShownError,
  Subject,
  Validation,
} from "./authorize-types.js";

/** A pending consent question lives this long. */
export const INTERACTION_TTL_MS = 10 * 60_000;
/**
 * Pending consent questions one session may have per client: a new authorization request
 * replaces the unanswered one (of two tabs, the later one's page is the one that works).
 */
export const PENDING_CONSENTS_PER_SESSION_AND_CLIENT = 1;

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
  /** The audit trail: consent given. */
  audit?: AuditRecorder;
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
    return errorRedirect(this.deps.issuer, redirectUri, state, error, description, mode);
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

  /** Validates the query of GET /oauth/authorize (src/oauth/authorize-request.ts). */
  async validate(params: Readonly<Record<string, unknown>>): Promise<Validation> {
    return validateRequest(params, this.deps.clients, this.deps.issuer);
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
    const scopes = [...new Set([...kept, ...request.scope])];
    await this.deps.consents.putConsent({
      userId: subject.userId,
      clientId: client.id,
      scopes,
      grantedAt: this.deps.clock.now(),
      clientGeneration: client.generation,
    });
    await (this.deps.audit ?? NO_AUDIT).record({
      type: "consent_given",
      actor: userActor(subject.userId),
      userId: subject.userId,
      clientId: client.id,
      details: { scopes },
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
