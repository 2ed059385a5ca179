import type { Clock } from "../../clock.js";
import type { Counters } from "../counters-types.js";
import type { EventLogOptions } from "../event-log.js";
import type {
  AuditLog,
  ClientStore,
  Collection,
  CollectionName,
  ConsentStore,
  DurableStore,
  EphemeralStore,
  EventLog,
  InstallationStore,
  KeptRevocationStore,
  KeyStore,
  RefreshStore,
  UserStore,
} from "../types.js";
import { MemoryAuditLog } from "./audit.js";
import { MemoryClients } from "./clients.js";
import { MemoryCollection } from "./collection.js";
import { MemoryConsents } from "./consents.js";
import { MemoryCounters } from "./counters.js";
import { MemoryInstallation } from "./installation.js";
import { MemoryKeptRevocations } from "./kept.js";
import { MemoryKeys } from "./keys.js";
import { MemoryRefresh } from "./refresh.js";
import { MemoryEventLog } from "./revocations.js";
import { MemoryUsers } from "./users.js";

/**
 * In-process store for unit tests and single-process experiments. Nothing survives a
 * restart; `tessera serve` warns loudly when it is used.
 */
export class MemoryStore implements DurableStore, EphemeralStore {
  readonly kind = "memory" as const;
  readonly users: UserStore = new MemoryUsers();
  readonly keys: KeyStore = new MemoryKeys();
  readonly clients: ClientStore = new MemoryClients();
  readonly installation: InstallationStore = new MemoryInstallation();
  readonly refresh: RefreshStore = new MemoryRefresh();
  readonly consents: ConsentStore = new MemoryConsents();
  readonly keptRevocations: KeptRevocationStore = new MemoryKeptRevocations();
  readonly audit: AuditLog = new MemoryAuditLog();
  readonly counters: Counters;
  readonly revocations: EventLog;
  private readonly collections = new Map<CollectionName, MemoryCollection<unknown>>();

  constructor(
    private readonly clock: Clock,
    options: EventLogOptions = {},
  ) {
    this.counters = new MemoryCounters(clock);
    this.revocations = new MemoryEventLog(clock, options);
  }

  get ephemeral(): EphemeralStore {
    return this;
  }

  collection<T>(name: CollectionName): Collection<T> {
    let c = this.collections.get(name);
    if (c === undefined) {
      c = new MemoryCollection(this.clock);
      this.collections.set(name, c);
    }
    return c as Collection<T>;
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
