import { userExists, userNotFound } from "../conflicts.js";
import type { UserRecord, UserStore } from "../types.js";

export class MemoryUsers implements UserStore {
  private readonly byId = new Map<string, UserRecord>();
  private readonly byKey = new Map<string, string>();

  async createUser(user: UserRecord): Promise<void> {
    if (this.byKey.has(user.usernameKey) || this.byId.has(user.id)) {
      throw userExists();
    }
    this.byId.set(user.id, structuredClone(user));
    this.byKey.set(user.usernameKey, user.id);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const u = this.byId.get(id);
    return u === undefined ? undefined : structuredClone(u);
  }

  async findUserByKey(usernameKey: string): Promise<UserRecord | undefined> {
    const id = this.byKey.get(usernameKey);
    return id === undefined ? undefined : this.findUserById(id);
  }

  async listUsers(): Promise<UserRecord[]> {
    return [...this.byId.values()]
      .map((u) => structuredClone(u))
      .sort((a, b) => a.createdAt - b.createdAt || a.usernameKey.localeCompare(b.usernameKey));
  }

  async updateUser(user: UserRecord): Promise<void> {
    const old = this.byId.get(user.id);
    if (old === undefined) throw userNotFound();
    if (old.usernameKey !== user.usernameKey) {
      if (this.byKey.has(user.usernameKey)) {
        throw userExists();
      }
      this.byKey.delete(old.usernameKey);
      this.byKey.set(user.usernameKey, user.id);
    }
    this.byId.set(user.id, structuredClone(user));
  }
}
