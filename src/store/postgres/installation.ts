import type { InstallationSettingKey, InstallationStore } from "../types.js";
import type { Db } from "./db.js";

const SQL = {
  get: "SELECT value FROM installation WHERE key = $1",
  init: "INSERT INTO installation (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
  put: `INSERT INTO installation (key, value) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
};

export class PostgresInstallation implements InstallationStore {
  constructor(private readonly db: Db) {}

  async getSetting(key: InstallationSettingKey): Promise<string | undefined> {
    return (await this.db.query<{ value: string }>(SQL.get, [key])).rows[0]?.value;
  }

  async initSetting(key: InstallationSettingKey, value: string): Promise<string> {
    // The insert waits for a concurrent one and then does nothing; the read after it
    // (a statement of its own, so a fresh snapshot) sees whichever value won.
    await this.db.query(SQL.init, [key, value]);
    return (await this.getSetting(key)) as string;
  }

  async putSetting(key: InstallationSettingKey, value: string): Promise<void> {
    await this.db.query(SQL.put, [key, value]);
  }
}
