import type { Clients } from "../clients/clients.js";
import { TesseraError } from "../errors.js";
import { authenticateClient } from "../oauth/client-auth.js";
import { NOT_A_FEED_FOLLOWER } from "../shared/feed-followers.js";
import type { ClientRecord } from "../store/types.js";

/**
 * A stream may go on while its client is registered as it was when the stream was
 * authenticated: same registration, same secret, still allowed to follow the feed.
 */
function mayStillFollow(opened: ClientRecord, now: ClientRecord | undefined): boolean {
  return (
    now !== undefined &&
    now.generation === opened.generation &&
    now.secretHash === opened.secretHash &&
    now.introspect
  );
}

/** Who may follow the revocation feed: authenticated clients registered with `--introspect`. */
export class FeedFollowers {
  constructor(private readonly clients: Clients) {}

  /** The client following the feed: authenticated (Basic), and allowed to introspect. */
  async authenticate(authorization: string | undefined): Promise<ClientRecord> {
    const client = await authenticateClient(this.clients, authorization, {});
    if (!client.introspect) {
      throw new TesseraError("invalid_client", NOT_A_FEED_FOLLOWER, {
        oauthError: "invalid_client",
      });
    }
    return client;
  }

  /**
   * Whether a stream opened by `opened` may go on. A store that cannot answer ends the
   * stream too: the verifier reconnects and is authenticated afresh (or refused) rather
   * than kept on a client that may be gone.
   */
  async stillAllowed(opened: ClientRecord): Promise<boolean> {
    return mayStillFollow(opened, await this.clients.find(opened.id).catch(() => undefined));
  }
}
