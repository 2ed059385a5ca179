import type { InstallationSettingKey, InstallationStore } from "../types.js";

export class MemoryInstallation implements InstallationStore {
  private readonly values = new Map<InstallationSettingKey, string>();

  async getSetting(key: InstallationSettingKey): Promise<string | undefined> {
    return this.values.get(key);
  }

  async initSetting(key: InstallationSettingKey, value: string): Promise<string> {
    const known = this.values.get(key);
    if (known !== undefined) return known;
    this.values.set(key, value);
    return value;
  }

  async putSetting(key: InstallationSettingKey, value: string): Promise<void> {
    this.values.set(key, value);
  }
}
