import { clientExists, clientNotFound } from "../conflicts.js";
import type { ClientRecord, ClientStore } from "../types.js";
import { byCreation } from "./order.js";

export class MemoryClients implements ClientStore {
  private readonly clients = new Map<string, ClientRecord>();

  async createClient(client: ClientRecord): Promise<void> {
    if (this.clients.has(client.id)) {
      throw clientExists();
    }
    this.clients.set(client.id, structuredClone(client));
  }

  async findClient(id: string): Promise<ClientRecord | undefined> {
    const c = this.clients.get(id);
    return c === undefined ? undefined : structuredClone(c);
  }

  async listClients(): Promise<ClientRecord[]> {
    return [...this.clients.values()].map((c) => structuredClone(c)).sort(byCreation);
  }

  async updateClient(client: ClientRecord): Promise<void> {
    if (!this.clients.has(client.id)) throw clientNotFound();
    this.clients.set(client.id, structuredClone(client));
  }

  async deleteClient(id: string): Promise<boolean> {
    return this.clients.delete(id);
  }
}
