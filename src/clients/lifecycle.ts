import { type AuditRecorder, NO_AUDIT } from "../audit/recorder.js";
import type { Clock } from "../clock.js";
import type { Revocations } from "../revocations/log.js";
import type { ClientRecord, ConsentStore } from "../store/types.js";
import type { AccessTokens } from "../tokens/access.js";
import type { RefreshTokens } from "../tokens/refresh.js";
import type { ClientChanges, Clients } from "./clients.js";
import { narrowingOf } from "./narrowing.js";

export interface ClientLifecycleDeps {
  clients: Clients;
  refresh: RefreshTokens;
  access: AccessTokens;
  consents: ConsentStore;
  /** Writes the revocation log: subject cutoffs. */
  revocations: Revocations;
  clock: Clock;
  /** The audit trail: clients changed, secrets rotated, clients removed. */
  audit?: AuditRecorder;
}

/**
 * Removing or changing a client ends or narrows everything it was given (README, "JWT access tokens: what you get").
 *
 * - `remove`: the registration goes first (nothing new authenticates as the client), then
 *   every refresh family of the client is revoked with the access tokens issued from it
 *   (opaque ones deleted, JWTs denylisted), its other opaque access tokens are deleted, a
 *   subject cutoff for the client id ends its client_credentials tokens (their `sub`) at
 *   every verifier, every consent given to it is forgotten, and its open revocation-feed
 *   streams end on every instance. An id added again is a new registration (a new
 *   `generation`, src/clients/current.ts): whatever of the old one is left is not its own.
 * - `update`: a narrowing (a scope, an audience or a grant taken away) revokes every access
 *   token the client holds (as above, without forgetting anything else), narrows its
 *   refresh families and remembered consents to its scopes, and revokes the families when
 *   the code or refresh grant is taken away. Widening revokes nothing; new scopes still
 *   need the user's consent. A removed redirect URI refuses pending codes (token endpoint).
 * - `rotateSecret`: streams authenticated with the old secret end.
 *
 * Each change of the registration is announced by the store the Clients service writes
 * through (src/cache/clients.ts): a `client` event, on which every instance drops the
 * client from its cache and its feed streams of the client check it again.
 *
 * A grant racing any of these is caught by the token endpoint, which reads the client
 * again after recording what it issued (`unchangedSince`).
 */
export class ClientLifecycle {
  constructor(private readonly deps: ClientLifecycleDeps) {}

  async remove(id: string): Promise<void> {
    const { deps } = this;
    await deps.clients.remove(id);
    await this.endAccessTokens(id, deps.clock.now());
    await deps.refresh.revokeClient(id);
    await deps.consents.deleteClientConsents(id);
    await this.record("client_removed", id);
  }

  async update(id: string, changes: ClientChanges): Promise<ClientRecord> {
    const { deps } = this;
    const { before, after } = await deps.clients.update(id, changes);
    const narrowing = narrowingOf(before, after);
    if (narrowing.narrowed) {
      await this.endAccessTokens(id, after.accessTokensValidAfter);
      const userGrantTaken = narrowing.grants.some(
        (g) => g === "authorization_code" || g === "refresh_token",
      );
      if (userGrantTaken) await deps.refresh.revokeClient(id);
      else await deps.refresh.narrowClient(id, after.scopes);
      if (narrowing.scopes.length > 0) await deps.consents.narrowClientConsents(id, after.scopes);
    }
    const changed = Object.entries(changes)
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k)
      .sort();
    await this.record("client_changed", id, {
      reason: narrowing.narrowed ? "narrowed" : "widened_or_same",
      details: { changed },
    });
    return after;
  }

  async rotateSecret(id: string): Promise<string> {
    const secret = await this.deps.clients.rotateSecret(id);
    await this.record("client_secret_rotated", id);
    return secret;
  }

  private record(
    type: "client_changed" | "client_secret_rotated" | "client_removed",
    clientId: string,
    extra: { reason?: string; details?: Record<string, string[]> } = {},
  ): Promise<void> {
    return (this.deps.audit ?? NO_AUDIT).record({ type, clientId, ...extra });
  }

  /**
   * Every access token of the client issued before `cutoffMs`: JWTs by a subject cutoff
   * for the client id (the `sub` of its client_credentials tokens; its users' tokens are
   * reached through their families), opaque ones deleted.
   */
  private async endAccessTokens(clientId: string, cutoffMs: number): Promise<void> {
    await this.deps.revocations.subject(clientId, cutoffMs);
    await this.deps.access.destroyClientOpaque(clientId);
  }
}
