import type pg from "pg";
import type { Db } from "./db.js";

/**
 * One LISTEN connection of its own (LISTEN holds a session, so it cannot share the
 * pool's), kept open until `stop`: when it breaks it is opened again, waiting a little
 * longer after each failure (up to 5 s). `onNotify` runs for every notification on the
 * channel; `onListening` each time LISTEN is in force again (first time included), so
 * the caller can catch up on what it may have missed while the connection was down.
 */
export class Listener {
  private client: pg.Client | undefined;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /**
   * Counts the times LISTEN came into force; undefined while it is not in force (before the
   * first time, and from a lost connection until the next).
   */
  private session: number | undefined;
  private sessions = 0;

  constructor(
    private readonly db: Db,
    private readonly channel: string,
    private readonly onNotify: () => void,
    private readonly onListening: () => void,
    /** Told when an attempt fails (the first one, to fail reads waiting on it). */
    private readonly onFailure: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = this.db.client();
    this.client = client;
    let lost = false;
    let listening = false;
    const fail = (err: unknown) => {
      if (lost) return;
      lost = true;
      if (this.client === client) {
        this.client = undefined;
        this.session = undefined;
      }
      client.end().catch(() => {});
      if (!listening && !this.stopped) this.onFailure(err);
      this.retry();
    };
    client.on("error", fail);
    client.on("end", () => fail(new Error("the LISTEN connection ended")));
    client.on("notification", (msg) => {
      if (msg.channel === this.channel) this.onNotify();
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      fail(err);
      return;
    }
    if (lost) return;
    if (this.stopped) {
      client.end().catch(() => {});
      return;
    }
    listening = true;
    this.failures = 0;
    this.session = ++this.sessions;
    this.onListening();
  }

  private retry(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    const wait = Math.min(5000, 100 * 2 ** this.failures);
    this.failures++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, wait);
    this.retryTimer.unref();
  }

  /**
   * Which LISTEN session is in force (a number that changes each time LISTEN comes back),
   * or undefined while none is: notifications sent meanwhile are lost.
   */
  get listening(): number | undefined {
    return this.session;
  }

  stop(): void {
    this.stopped = true;
    this.session = undefined;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    client?.end().catch(() => {});
  }
}
