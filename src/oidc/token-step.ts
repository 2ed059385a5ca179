import type { ClientRecord } from "../store/types.js";
import type { IdTokenInput, IdTokens } from "./id-token.js";
import type { RpSessions } from "./rp-sessions.js";

/**
 * The token endpoint's OpenID Connect step: the ID token, and (when it names a session)
 * the record that this relying party now holds a login of that session, for back-channel
 * logout.
 */
export class IdTokenStep {
  constructor(
    private readonly idTokens: IdTokens,
    private readonly rpSessions: RpSessions,
  ) {}

  assertCanSign(client: ClientRecord): void {
    this.idTokens.assertCanSign(client);
  }

  async issue(input: IdTokenInput): Promise<string> {
    const token = this.idTokens.issue(input);
    if (input.sid !== undefined) {
      await this.rpSessions.record({
        sid: input.sid,
        clientId: input.client.id,
        userId: input.user.id,
      });
    }
    return token;
  }
}
