/**
 * A bounded cache with least-recently-used eviction by generations (the "hashlru"
 * scheme): two maps of at most `max / 2` entries each. Reads hit the young map with one
 * `Map#get` and no reordering; an entry found in the old map is moved to the young one.
 * When the young map is full it becomes the old one and the previous old map is dropped
 * whole. Every entry read since the last turnover survives the next one, so the entries
 * evicted are always among the least recently used; the total never exceeds `max` (with `max`
 * 1 the old generation is simply dropped).
 */
export class GenerationalCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;
  private readonly keepOld: boolean;

  constructor(max: number) {
    this.half = Math.max(1, Math.floor(max / 2));
    this.keepOld = this.half * 2 <= max;
  }

  get(key: string): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.insert(key, aged);
    }
    return aged;
  }

  set(key: string, value: V): void {
    if (this.young.has(key)) this.young.set(key, value);
    else {
      this.old.delete(key);
      this.insert(key, value);
    }
  }

  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  /** Deletes every entry matching `pred` (a full scan: for rare events). */
  deleteWhere(pred: (value: V) => boolean): void {
    for (const [k, v] of this.young) if (pred(v)) this.young.delete(k);
    for (const [k, v] of this.old) if (pred(v)) this.old.delete(k);
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  private insert(key: string, value: V): void {
    if (this.young.size >= this.half) {
      this.old = this.keepOld ? this.young : new Map();
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}
