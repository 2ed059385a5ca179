import { isTesseraError } from "../../errors.js";

interface Waiting<V> {
  key: string;
  resolve(value: V | undefined): void;
  reject(err: unknown): void;
}

/** Most keys one statement reads; more wait for the next statement. */
export const MAX_GROUP_READ = 500;
/** Most statements under way at once (of a pool of --db-pool-size connections). */
export const MAX_GROUPS_IN_FLIGHT = 4;

/**
 * Reads by key, grouped as the audit log groups its inserts (./audit.ts): the reads asked
 * for during one turn of the event loop go to PostgreSQL in one statement (`readMany`, one
 * round trip where each was its own), at most MAX_GROUPS_IN_FLIGHT statements at once;
 * reads asked for while that many are under way wait for the next. A statement answers
 * only the reads asked for before it was sent, never one asked for while it runs: so
 * whatever was committed before a read was asked for is seen, exactly as by a statement
 * of its own. A group the server refuses is read again a key at a time (`readOne`), so
 * only the key that fails fails, with the error its own statement gives; a group that
 * could not reach the server (503 `store_unavailable`) fails whole, at once.
 */
export class GroupRead<R, V> {
  private waiting: Waiting<V>[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private inFlight = 0;

  constructor(
    private readonly readOne: (key: string) => Promise<V | undefined>,
    /** The rows of `keys` that exist, by key. */
    private readonly readMany: (keys: string[]) => Promise<Map<string, R>>,
    /**
     * A row as a caller gets it, called once per caller: it must make a value of its own
     * (nothing shared with the row), since two callers may have asked for one key.
     */
    private readonly toValue: (row: R) => V,
  ) {}

  read(key: string): Promise<V | undefined> {
    return new Promise<V | undefined>((resolve, reject) => {
      this.waiting.push({ key, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled !== undefined || this.inFlight >= MAX_GROUPS_IN_FLIGHT) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.readNext();
    });
  }

  private readNext(): void {
    const group = this.waiting.splice(0, MAX_GROUP_READ);
    if (group.length === 0) return;
    this.inFlight++;
    void this.run(group).finally(() => {
      this.inFlight--;
      if (this.waiting.length > 0) this.schedule();
    });
  }

  private async run(group: Waiting<V>[]): Promise<void> {
    try {
      if (group.length === 1) {
        const only = group[0] as Waiting<V>;
        only.resolve(await this.readOne(only.key));
        return;
      }
      const found = await this.readMany([...new Set(group.map((w) => w.key))]);
      for (const w of group) {
        const row = found.get(w.key);
        w.resolve(row === undefined ? undefined : this.toValue(row));
      }
      return;
    } catch (err) {
      if (group.length === 1 || (isTesseraError(err) && err.code === "store_unavailable")) {
        for (const w of group) w.reject(err);
        return;
      }
    }
    for (const w of group) {
      try {
        w.resolve(await this.readOne(w.key));
      } catch (err) {
        w.reject(err);
      }
    }
  }
}
