import type { KeyRecord, KeyStore } from "../types.js";
import { byCreation } from "./order.js";

export class MemoryKeys implements KeyStore {
  private readonly keys = new Map<string, KeyRecord>();

  async listKeys(): Promise<KeyRecord[]> {
    return [...this.keys.values()].map((k) => structuredClone(k)).sort(byCreation);
  }

  async putKeys(keys: KeyRecord[]): Promise<void> {
    for (const k of keys) this.keys.set(k.kid, structuredClone(k));
  }

  async putFirstKey(keys: KeyRecord[], now: number): Promise<boolean> {
    for (const k of this.keys.values()) {
      if (k.retiredAt === undefined || k.retiredAt > now) return false;
    }
    for (const k of keys) this.keys.set(k.kid, structuredClone(k));
    return true;
  }

  async deleteKey(kid: string): Promise<boolean> {
    return this.keys.delete(kid);
  }
}
