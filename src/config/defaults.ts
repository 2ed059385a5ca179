/**
 * Every setting of Tessera, in one object: its default, its allowed range and what it
 * does, declared by group in src/config/settings/ and joined here. Precedence is command-line flag > `TESSERA_*` environment variable > the default
 * here. The flag is the key in kebab-case (`sessionIdleTimeout` → `--session-idle-timeout`)
 * and the environment variable the key in upper snake case with a `TESSERA_` prefix
 * (`TESSERA_SESSION_IDLE_TIMEOUT`). The README's configuration table is generated from
 * this object (`npm run docs:config`) and a test keeps the two in step.
 */

import { HTTP_SETTINGS } from "./settings/http.js";
import { LISTENING_SETTINGS } from "./settings/listening.js";
import { LOGIN_SETTINGS } from "./settings/login.js";
import { SESSION_SETTINGS } from "./settings/sessions.js";
import type { SettingSpec } from "./settings/spec.js";
import { STORAGE_SETTINGS } from "./settings/storage.js";
import { TOKEN_SETTINGS } from "./settings/tokens.js";

export type { SettingSpec, SettingType } from "./settings/spec.js";

/** The groups (src/config/settings/), joined in the README table's order. */
export const SETTINGS = {
  ...LISTENING_SETTINGS,
  ...STORAGE_SETTINGS,
  ...SESSION_SETTINGS,
  ...LOGIN_SETTINGS,
  ...TOKEN_SETTINGS,
  ...HTTP_SETTINGS,
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;

type ValueOf<S extends SettingSpec> = S["type"] extends "int"
  ? number
  : S["type"] extends "bool"
    ? boolean
    : string;

/** Settings without a default whose value `loadConfig` derives from others. */
type Derived = "issuer" | "db";

/** Where a setting's value came from, when not from the defaults (or derived). */
export type SettingSource = "flag" | "env";

/**
 * The resolved configuration. Every setting has a value, except optional ones without a
 * default (`redis`, `secret`), which may be undefined. `sources` tells which settings
 * the user gave (so "asked for ES256" differs from "ES256 by default").
 */
export type Config = {
  -readonly [K in SettingKey]: (typeof SETTINGS)[K]["default"] extends undefined
    ? K extends Derived
      ? ValueOf<(typeof SETTINGS)[K]>
      : ValueOf<(typeof SETTINGS)[K]> | undefined
    : ValueOf<(typeof SETTINGS)[K]>;
} & { readonly sources: Readonly<Partial<Record<SettingKey, SettingSource>>> };

/** Flag name of a setting: `sessionIdleTimeout` → `session-idle-timeout`. */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Environment variable of a setting: `sessionIdleTimeout` → `TESSERA_SESSION_IDLE_TIMEOUT`. */
export function envName(key: string): string {
  return `TESSERA_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
