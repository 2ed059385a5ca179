/**
 * One flight per key: concurrent callers with the same key share the first caller's
 * promise instead of starting their own. The BFF keys a session's refresh by the session,
 * so 50 parallel API calls of one session at expiry cause one refresh in this process
 * (across processes, Tessera's grace window hands every racer the same successor).
 *
 * Bounded: at most `maxWaiters` callers may join a running flight; more are refused
 * with 503 `server_busy` (Retry-After 1) rather than held.
 */
import { TesseraError } from "../errors.js";

interface Flight<T> {
  promise: Promise<T>;
  waiters: number;
}

export class SingleFlight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  constructor(private readonly maxWaiters: number) {}

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.flights.get(key);
    if (running !== undefined) {
      if (running.waiters >= this.maxWaiters) {
        return Promise.reject(
          new TesseraError("server_busy", "Too many requests wait for this session's refresh.", {
            retryAfter: 1,
          }),
        );
      }
      running.waiters++;
      return running.promise;
    }
    const flight: Flight<T> = {
      waiters: 0,
      promise: (async () => {
        try {
          return await fn();
        } finally {
          this.flights.delete(key);
        }
      })(),
    };
    this.flights.set(key, flight);
    return flight.promise;
  }

  /** Flights running now (tests, metrics). */
  get size(): number {
    return this.flights.size;
  }
}
