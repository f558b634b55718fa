/**
 * Notifications for the pipeline service, like upstream's `--slack URI-FILE`:
 * Slack-compatible JSON (`{"text": …}`, which Slack, Mattermost, Rocket.Chat
 * and most chat webhooks take) posted to a webhook whose URL is a secret file.
 * Posting is bounded in tries and time and never throws: a notification that
 * cannot be delivered is one log line, and the pipeline goes on.
 */
import type { StatusDocument } from "../../libs/status/src";

export interface PostPolicy {
  /** Tries in all. */
  readonly attempts: number;
  /** One try's bound, connecting to answering. */
  readonly timeoutMs: number;
  /** The wait before the second try, doubled for each further one. */
  readonly backoffMs: number;
}

export const DEFAULT_POST: PostPolicy = { attempts: 3, timeoutMs: 5_000, backoffMs: 1_000 };

export type Delivery = { readonly delivered: true; readonly tries: number } | { readonly delivered: false; readonly tries: number; readonly reason: string };

/** Where notifications go; `none` when no webhook is configured. */
export interface Notifier {
  post(text: string): Promise<Delivery>;
}

export const noNotifier: Notifier = { post: async () => ({ delivered: false, tries: 0, reason: "no webhook configured" }) };

/**
 * A notifier posting to `url`. Log lines name the webhook's host only: the
 * path of a chat webhook is its secret.
 */
export function webhookNotifier(url: URL, log: (line: string) => void, policy: PostPolicy = DEFAULT_POST): Notifier {
  const where = url.host;
  return {
    async post(text) {
      let reason = "";
      let tries = 0;
      while (tries < policy.attempts) {
        tries++;
        try {
          const res = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ text }),
            signal: AbortSignal.timeout(policy.timeoutMs),
            redirect: "error",
          });
          // The body is not needed; reading it (bounded by the same signal) frees the connection.
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return { delivered: true, tries };
          reason = `answered ${res.status}`;
          // A client error will not pass by trying again, except being asked to slow down.
          if (res.status >= 400 && res.status < 500 && res.status !== 429) break;
        } catch (e) {
          const err = e as Error;
          reason = err.name === "TimeoutError" ? `no answer within ${policy.timeoutMs / 1000} s` : `${err.message}${(err.cause as Error | undefined)?.message ? `: ${(err.cause as Error).message}` : ""}`;
        }
        if (tries < policy.attempts) await new Promise((r) => setTimeout(r, policy.backoffMs * 2 ** (tries - 1)));
      }
      log(`notify: could not post to the webhook at ${where}: ${reason}; the pipeline goes on`);
      return { delivered: false, tries, reason };
    },
  };
}

/** What changed between two statuses: builds newly failed, and builds that had failed and are now current. */
export interface Changes {
  readonly failed: readonly string[];
  readonly recovered: readonly string[];
}

const failedBuilds = (status: StatusDocument): Set<string> =>
  new Set(status.images.flatMap((i) => i.builds.filter((b) => b.status.state === "failed").map((b) => `${i.name} (${b.arch})`)));

const okBuilds = (status: StatusDocument): Set<string> =>
  new Set(status.images.flatMap((i) => i.builds.filter((b) => ["built", "reused", "published"].includes(b.status.state)).map((b) => `${i.name} (${b.arch})`)));

export function changes(before: StatusDocument, after: StatusDocument): Changes {
  const was = failedBuilds(before);
  const now = failedBuilds(after);
  const ok = okBuilds(after);
  return { failed: [...now].filter((b) => !was.has(b)), recovered: [...was].filter((b) => ok.has(b)) };
}

const list = (names: readonly string[], max = 10): string =>
  names.slice(0, max).join(", ") + (names.length > max ? ` and ${names.length - max} more` : "");

export function failureText(names: readonly string[], pageUrl: string | undefined): string {
  return `:red_circle: base-images: ${names.length} build${names.length === 1 ? "" : "s"} failed: ${list(names)}${pageUrl ? ` (${pageUrl})` : ""}`;
}

export function recoveryText(names: readonly string[], pageUrl: string | undefined): string {
  return `:large_green_circle: base-images: ${names.length} build${names.length === 1 ? "" : "s"} recovered: ${list(names)}${pageUrl ? ` (${pageUrl})` : ""}`;
}

/** The end of a period's run: its outcome and the counts the page shows. */
export function runEndText(outcome: "succeeded" | "failed", period: string, commit: string, status: StatusDocument, pageUrl: string | undefined): string {
  const counts = Object.entries(status.counts.builds)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${n} ${state}`)
    .join(", ");
  const mark = outcome === "succeeded" ? ":white_check_mark:" : ":x:";
  return `${mark} base-images: the run for period ${period} at ${commit.slice(0, 12)} ${outcome}; builds: ${counts || "none"}${pageUrl ? `; ${pageUrl}` : ""}`;
}
