/** Seconds in a minute, an hour, a day: the unit of most durations in the settings. */
export const MINUTE = 60;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
