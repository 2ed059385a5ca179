import { keptKey } from "../kept.js";
import type { KeptRevocation, KeptRevocationStore } from "../types.js";

export class MemoryKeptRevocations implements KeptRevocationStore {
  private readonly rows = new Map<string, KeptRevocation>();

  async keep(event: KeptRevocation): Promise<void> {
    const key = keptKey(event);
    if (!this.rows.has(key)) this.rows.set(key, structuredClone(event));
  }

  async page(
    nowMs: number,
    after: string,
    limit: number,
  ): Promise<Array<{ key: string; event: KeptRevocation }>> {
    for (const [key, e] of this.rows) if (e.exp * 1000 <= nowMs) this.rows.delete(key);
    return [...this.rows.entries()]
      .filter(([key]) => key > after)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, limit)
      .map(([key, event]) => ({ key, event: structuredClone(event) }));
  }
}
