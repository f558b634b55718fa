/**
 * When a deprecated distro's tags are retired: the clock and the grace period.
 * A leaf module (it imports nothing), so the settings that resolve the period
 * do not make the build and publish executors load the planning code.
 */
export interface Retirement {
  readonly now: Date;
  /** Days after a distro's deprecation before its tags are replaced. */
  readonly graceDays: number;
}

export const DEFAULT_GRACE_DAYS = 90;
const DAY_MS = 86_400_000;

/** Whether a distro deprecated on `since` (YYYY-MM-DD) is retired at `retirement.now`. */
export function graceOver(since: string, retirement: Retirement): boolean {
  return Date.parse(`${since}T00:00:00Z`) + retirement.graceDays * DAY_MS <= retirement.now.getTime();
}
