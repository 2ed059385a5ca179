/** How one setting is declared (see src/config/defaults.ts). */

export type SettingType = "int" | "bool" | "string" | "url" | "enum";

export interface SettingSpec {
  readonly type: SettingType;
  /** `undefined` means "derived at load time" (see `doc`). */
  readonly default: number | boolean | string | undefined;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** URL schemes accepted by a `url` setting. */
  readonly schemes?: readonly string[];
  /** Only settable from the environment (never a flag, so it stays out of `ps`). */
  readonly envOnly?: boolean;
  /**
   * Only settable as a flag, for one run (a confirmation that must not linger in an
   * environment and apply to a later, unintended change).
   */
  readonly flagOnly?: boolean;
  /**
   * An `int` setting that also accepts the word `auto`: the number it stands for on this
   * machine, computed when the configuration is loaded.
   */
  readonly auto?: () => number;
}
