// @ts-check
/**
 * The rebuild period a moment falls in (periods count from the Unix epoch), as a label:
 * the one computation behind every build's id (settings.ts) and the builds' runtime input,
 * which Nx runs as `node tools/nx-plugin/src/rebuild-period.js <days>` (config.ts), so the
 * two cannot differ. Plain JavaScript so that node alone runs it; OBI_NOW (an ISO date)
 * stands in for the clock.
 */
"use strict";

const NOW_ENV = "OBI_NOW";
const DAY_MS = 86_400_000;

/** @param {number} days @param {Record<string, string | undefined>} env @returns {string} */
function rebuildPeriod(days, env) {
  if (days <= 0) return "none";
  const text = env[NOW_ENV];
  const now = text ? Date.parse(text) : Date.now();
  if (Number.isNaN(now)) throw new Error(`${NOW_ENV} is not a date: ${text}`);
  return `${days}d#${Math.floor(now / (days * DAY_MS))}`;
}

module.exports = { rebuildPeriod, NOW_ENV };

if (require.main === module) {
  try {
    process.stdout.write(`${rebuildPeriod(Number(process.argv[2]), process.env)}\n`);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
