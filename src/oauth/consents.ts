import { type AuditRecorder, NO_AUDIT, userActor } from "../audit/recorder.js";
import { CLIENT_ID } from "../clients/clients.js";
import { TesseraError } from "../errors.js";
import type { ConsentRecord, ConsentStore } from "../store/types.js";
import type { RefreshTokens } from "../tokens/refresh.js";

/**
 * A user's remembered consents (the "authorized applications" they can review): listing
 * them, and withdrawing one, which cuts the client off from that user.
 */
export class Consents {
  constructor(
    private readonly store: ConsentStore,
    private readonly refresh: Pick<RefreshTokens, "revokeUser">,
    private readonly audit: AuditRecorder = NO_AUDIT,
  ) {}

  list(userId: string): Promise<ConsentRecord[]> {
    return this.store.listConsents(userId);
  }

  /**
   * Forgets the user's consent to the client (`not_found` when there is none).
   * Withdrawing consent cuts the client off: its refresh families for this user and every
   * access token issued from them are revoked.
   */
  async withdraw(userId: string, clientId: string): Promise<void> {
    const removed = CLIENT_ID.test(clientId) && (await this.store.deleteConsent(userId, clientId));
    if (!removed) throw new TesseraError("not_found", "No remembered consent for this client.");
    await this.refresh.revokeUser(userId, clientId);
    await this.audit.record({
      type: "consent_withdrawn",
      actor: userActor(userId),
      userId,
      clientId,
    });
  }
}
