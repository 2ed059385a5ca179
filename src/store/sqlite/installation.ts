import type { InstallationSettingKey, InstallationStore } from "../types.js";
import type { Db } from "./db.js";

export class SqliteInstallation implements InstallationStore {
  private readonly q;
  constructor(db: Db) {
    this.q = {
      get: db.prepare<[string], { value: string }>("SELECT value FROM installation WHERE key = ?"),
      init: db.prepare<[string, string]>(
        "INSERT INTO installation (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
      ),
      put: db.prepare<[string, string]>(
        `INSERT INTO installation (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ),
    };
  }

  async getSetting(key: InstallationSettingKey): Promise<string | undefined> {
    return this.q.get.get(key)?.value;
  }

  async initSetting(key: InstallationSettingKey, value: string): Promise<string> {
    // One statement: atomic across processes; the loser of a race reads the winner's value.
    this.q.init.run(key, value);
    return (this.q.get.get(key) as { value: string }).value;
  }

  async putSetting(key: InstallationSettingKey, value: string): Promise<void> {
    this.q.put.run(key, value);
  }
}
