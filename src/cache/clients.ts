import type { ClientRecord, ClientStore } from "../store/types.js";
import { writeThenEvict } from "./announce.js";
import type { Evictions } from "./evictions.js";

/** A client record to hand out or keep: callers may change what they get. */
export function copyClient(c: ClientRecord): ClientRecord {
  const copy: ClientRecord = {
    ...c,
    grants: [...c.grants],
    audience: [...c.audience],
    scopes: [...c.scopes],
    redirectUris: [...c.redirectUris],
  };
  if (c.postLogoutRedirectUris !== undefined)
    copy.postLogoutRedirectUris = [...c.postLogoutRedirectUris];
  return copy;
}

/**
 * The client store as the Clients service writes it: every change of a registration
 * (update, secret rotation, removal) evicts the client from the caches of every process
 * before it returns, with the `client` event that also makes every instance's feed
 * streams of the client check it again. A new client is in no cache.
 */
export class AnnouncingClientStore implements ClientStore {
  constructor(
    private readonly store: ClientStore,
    private readonly evictions: Evictions,
  ) {}

  createClient(client: ClientRecord): Promise<void> {
    return this.store.createClient(client);
  }

  findClient(id: string): Promise<ClientRecord | undefined> {
    return this.store.findClient(id);
  }

  listClients(): Promise<ClientRecord[]> {
    return this.store.listClients();
  }

  updateClient(client: ClientRecord): Promise<void> {
    return writeThenEvict(this.evictions, "client", client.id, () =>
      this.store.updateClient(client),
    );
  }

  deleteClient(id: string): Promise<boolean> {
    return writeThenEvict(this.evictions, "client", id, () => this.store.deleteClient(id));
  }
}
