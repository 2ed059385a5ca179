import type { Clients } from "../clients/clients.js";
import type { Clock } from "../clock.js";
import type { SigningKeys } from "../keys/keys.js";
import type { BackchannelEvent, BackchannelSender } from "./backchannel.js";
import { logoutToken } from "./logout-token.js";
import type { RpSession, RpSessions } from "./rp-sessions.js";

export interface OidcLogoutDeps {
  rpSessions: RpSessions;
  clients: Pick<Clients, "find">;
  keys: SigningKeys;
  clock: Clock;
  issuer: string;
  sender: BackchannelSender;
  /** Where a failure to look the relying parties up is reported (the logout goes on). */
  onEvent: (e: BackchannelEvent | { kind: "error"; err: unknown }) => void;
}

/**
 * OpenID Connect Back-Channel Logout, the OP side: when a Tessera session ends (sign-out,
 * RP-initiated logout, a session ended from the list) or every session of a user does
 * (password change, disable, log out everywhere), each relying party that received an ID
 * token for it and registered a back-channel URI gets a logout token. Queued, never
 * awaited: a slow relying party never slows a logout.
 */
export class OidcLogout {
  constructor(private readonly deps: OidcLogoutDeps) {}

  /** One session ended (its public id). */
  sessionEnded(userId: string, sid: string): Promise<void> {
    return this.notify(() => this.deps.rpSessions.take(userId, sid));
  }

  /** Every session of the user ended. */
  userEnded(userId: string): Promise<void> {
    return this.notify(() => this.deps.rpSessions.take(userId));
  }

  private async notify(find: () => Promise<RpSession[]>): Promise<void> {
    try {
      for (const rp of await find()) {
        const client = await this.deps.clients.find(rp.clientId);
        const url = client?.oidc === true ? client.backchannelLogoutUri : undefined;
        if (client === undefined || url === undefined) continue;
        const { keys, clock, issuer } = this.deps;
        this.deps.sender.send({
          clientId: client.id,
          url,
          logoutToken: logoutToken(keys, clock, issuer, client, { sub: rp.userId, sid: rp.sid }),
        });
      }
    } catch (err) {
      this.deps.onEvent({ kind: "error", err });
    }
  }
}
