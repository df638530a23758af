/** Units, so a duration or a size reads as what it is (`30 * SECOND`, `1 * MiB`). Durations are in ms. */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const KiB = 1024;
export const MiB = 1024 * KiB;
