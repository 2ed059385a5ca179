import type { ConsentRecord, ConsentStore } from "../types.js";

export class MemoryConsents implements ConsentStore {
  private readonly consents = new Map<string, ConsentRecord>();
  private static key(userId: string, clientId: string): string {
    return JSON.stringify([userId, clientId]);
  }

  async findConsent(userId: string, clientId: string): Promise<ConsentRecord | undefined> {
    const c = this.consents.get(MemoryConsents.key(userId, clientId));
    return c === undefined ? undefined : structuredClone(c);
  }

  async putConsent(consent: ConsentRecord): Promise<void> {
    this.consents.set(
      MemoryConsents.key(consent.userId, consent.clientId),
      structuredClone(consent),
    );
  }

  async listConsents(userId: string): Promise<ConsentRecord[]> {
    return [...this.consents.values()]
      .filter((c) => c.userId === userId)
      .map((c) => structuredClone(c))
      .sort((a, b) => a.grantedAt - b.grantedAt);
  }

  async deleteConsent(userId: string, clientId: string): Promise<boolean> {
    return this.consents.delete(MemoryConsents.key(userId, clientId));
  }

  async deleteClientConsents(clientId: string): Promise<number> {
    let n = 0;
    for (const [key, c] of [...this.consents]) {
      if (c.clientId === clientId && this.consents.delete(key)) n++;
    }
    return n;
  }

  async narrowClientConsents(clientId: string, allowed: string[]): Promise<number> {
    let n = 0;
    for (const c of this.consents.values()) {
      if (c.clientId !== clientId) continue;
      const scopes = c.scopes.filter((s) => allowed.includes(s));
      if (scopes.length === c.scopes.length) continue;
      c.scopes = scopes;
      n++;
    }
    return n;
  }
}
