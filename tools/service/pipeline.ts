/**
 * The pipeline service: runs `nx run-many -t publish` once per rebuild period
 * and whenever the deployed commit changes, records each run in
 * dist/service/run.json (for /metrics), and posts Slack-compatible
 * notifications when builds fail or recover and when a run ends.
 *
 *   node -r @swc-node/register tools/service/pipeline.ts [--once] [--dry-run] [--slack FILE] …
 *
 * See USAGE. Secrets are files: the webhook URL (--slack) and the remote
 * cache's token (--cache-token-file) are read here, and the token goes only
 * into the environment of the nx it starts, which Nx needs it in.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { execa, execaSync } from "execa";
import { lastSuccessOf, SERVICE_RUN_FILE, type ServiceRun, type StatusDocument } from "../../libs/status/src";
import { workspacePluginOptions } from "../nx-plugin/src/config";
import { currentStatus, readServiceRun, statusSource, type StatusOptions } from "../nx-plugin/src/executors/status";
import { rebuildPeriod, readWebhookUrl } from "../nx-plugin/src/settings";
import { changes, failureText, noNotifier, recoveryText, runEndText, webhookNotifier, type Notifier } from "./notify";

const USAGE = `usage: node -r @swc-node/register tools/service/pipeline.ts [options]

Runs \`nx run-many -t publish\` once per rebuild period (the plugin's rebuildPeriodDays)
and when the deployed commit changes; a failed run is tried again after --retry-minutes.
  --once                  one check (and run, if due), then exit: 0 when nothing failed
  --dry-run               the runs are dry runs (nothing built or pushed): the deployment's --confirm harmless
  --slack FILE            a file whose first line is a webhook URL: notifications go there
  --page-url URL          the status page's public address, linked from notifications
  --cache-url URL         the Nx remote cache server (NX_SELF_HOSTED_REMOTE_CACHE_SERVER for nx)
  --cache-token-file FILE a file holding its read-write token
  --commit SHA            the deployed commit (default: git rev-parse HEAD, else the COMMIT file)
  --check-seconds N       how often to look whether a run is due (300)
  --retry-minutes N       how long after a failed run to try again (60)
  --exclude PROJECT       a project the runs leave out (nx run-many --exclude); may be repeated
  --help                  this text`;

export interface ServiceOptions {
  readonly root: string;
  readonly once: boolean;
  readonly dryRun: boolean;
  readonly commit: string;
  readonly pageUrl?: string;
  readonly cacheUrl?: string;
  readonly cacheToken?: string;
  readonly checkSeconds: number;
  readonly retryMinutes: number;
  /** Projects the runs leave out (a site that cannot build the archive image, which needs Docker Hub). */
  readonly exclude?: readonly string[];
  readonly notifier: Notifier;
  readonly log: (line: string) => void;
}

/** The status options the plugin's options in nx.json give (as `images:status` has them). */
export function statusOptionsOf(root: string): StatusOptions & { rebuildPeriodDays: number } {
  const { stagingRepo, publicRepo, site, rebuildPeriodDays, builtinFrontend, deprecationGraceDays, imageMetadata } = workspacePluginOptions(root);
  return { stagingRepo, publicRepo, site, rebuildPeriodDays, builtinFrontend, deprecationGraceDays, imageMetadata };
}

function writeServiceRun(root: string, run: ServiceRun): void {
  const file = join(root, SERVICE_RUN_FILE);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(run, null, 2) + "\n");
  renameSync(`${file}.tmp`, file);
}

/** Why a run is due now, or undefined when it is not. */
export function dueReason(last: ServiceRun | undefined, commit: string, period: string, now: number, retryMinutes: number): string | undefined {
  if (!last) return "no run yet";
  if (last.commit !== commit) return `the deployed commit moved to ${commit.slice(0, 12)}`;
  if (last.period !== period) return `a new rebuild period (${period})`;
  // A run that was going on when the service stopped did not end: run again.
  if (last.state === "running") return "the last run did not end";
  if (last.state === "failed" && now - Date.parse(last.at) >= retryMinutes * 60_000) return `the last run failed ${retryMinutes} minutes ago or more`;
  return undefined;
}

/** One run of the pipeline: nx run-many -t publish, recorded and notified. True when it succeeded. */
export async function runOnce(options: ServiceOptions, period: string, reason: string): Promise<boolean> {
  const { root, log } = options;
  const statusOptions = statusOptionsOf(root);
  const source = statusSource(root, statusOptions);
  const before: StatusDocument = currentStatus(root, source);
  const previous = readServiceRun(root);
  const lastSuccessAt = previous ? lastSuccessOf(previous) : null;
  const startedAt = new Date().toISOString();
  writeServiceRun(root, { state: "running", startedAt, commit: options.commit, period, lastSuccessAt });
  log(`pipeline: running (${reason}): nx run-many -t publish${options.dryRun ? " --dryRun" : ""}`);
  const env: Record<string, string> = {
    NX_DAEMON: "false",
    NX_TUI: "false",
    NX_NO_CLOUD: "true",
    FORCE_COLOR: "0",
    ...(options.cacheUrl ? { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: options.cacheUrl } : {}),
    ...(options.cacheToken ? { NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: options.cacheToken } : {}),
  };
  const child = execa(join(root, "node_modules/.bin/nx"), ["run-many", "-t", "publish", "--outputStyle=static", ...(options.exclude?.length ? [`--exclude=${options.exclude.join(",")}`] : []), ...(options.dryRun ? ["--dryRun"] : [])], {
    cwd: root,
    env,
    reject: false,
    all: true,
    buffer: false,
  });
  child.all?.setEncoding("utf8");
  let partial = "";
  child.all?.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) log(`nx | ${line}`);
  });
  const result = await child;
  if (partial) log(`nx | ${partial}`);
  const ok = result.exitCode === 0;
  const after = currentStatus(root, source);
  const counts = { succeeded: 0, failed: 0 };
  for (const image of after.images) for (const b of image.builds) {
    if (b.status.state === "failed") counts.failed++;
    else if (["built", "reused", "published"].includes(b.status.state)) counts.succeeded++;
  }
  const at = new Date().toISOString();
  writeServiceRun(
    root,
    ok
      ? { state: "succeeded", startedAt, at, commit: options.commit, period, counts }
      : { state: "failed", startedAt, at, commit: options.commit, period, counts, lastSuccessAt },
  );
  log(`pipeline: the run ${ok ? "succeeded" : `failed (nx exit ${result.exitCode})`}`);
  const changed = changes(before, after);
  if (changed.failed.length > 0) await options.notifier.post(failureText(changed.failed, options.pageUrl));
  if (changed.recovered.length > 0) await options.notifier.post(recoveryText(changed.recovered, options.pageUrl));
  await options.notifier.post(runEndText(ok ? "succeeded" : "failed", period, options.commit, after, options.pageUrl));
  return ok;
}

/** Checks whether a run is due, runs it, and with --once stops; else checks again every checkSeconds. */
export async function serve(options: ServiceOptions, stopped: () => boolean = () => false): Promise<boolean> {
  let ok = true;
  for (;;) {
    const days = statusOptionsOf(options.root).rebuildPeriodDays;
    const period = rebuildPeriod(days);
    const reason = dueReason(readServiceRun(options.root), options.commit, period, Date.now(), options.retryMinutes);
    if (reason) ok = await runOnce(options, period, reason);
    else if (options.once) options.log(`pipeline: nothing is due (period ${period}, commit ${options.commit.slice(0, 12)})`);
    if (options.once || stopped()) return ok;
    const until = Date.now() + options.checkSeconds * 1000;
    while (Date.now() < until && !stopped()) await new Promise((r) => setTimeout(r, Math.min(1000, options.checkSeconds * 1000)));
    if (stopped()) return ok;
  }
}

/** The commit deployed: git's HEAD in a checkout, else the COMMIT file the service image is built with. */
function deployedCommit(root: string): string {
  const git = execaSync("git", ["rev-parse", "HEAD"], { cwd: root, reject: false });
  if (git.exitCode === 0 && git.stdout.trim()) return git.stdout.trim();
  try {
    return readFileSync(join(root, "COMMIT"), "utf8").trim() || "unknown";
  } catch {
    return "unknown";
  }
}

function fail(message: string, code: number): never {
  console.error(`pipeline: ${message}`);
  process.exit(code);
}

export function main(argv: string[]): void {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        once: { type: "boolean" },
        "dry-run": { type: "boolean" },
        slack: { type: "string" },
        "page-url": { type: "string" },
        "cache-url": { type: "string" },
        "cache-token-file": { type: "string" },
        commit: { type: "string" },
        "check-seconds": { type: "string" },
        "retry-minutes": { type: "string" },
        exclude: { type: "string", multiple: true },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    fail(`${(e as Error).message.split(". ")[0]} (see --help)`, 2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const number = (name: string, fallback: number): number => {
    const v = values[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) fail(`--${name}: "${String(v)}" is not a positive number`, 2);
    return n;
  };
  const root = process.cwd();
  const log = (line: string) => console.log(line);
  let notifier: Notifier = noNotifier;
  let cacheToken: string | undefined;
  try {
    if (typeof values.slack === "string") notifier = webhookNotifier(readWebhookUrl(values.slack, (p) => readFileSync(p, "utf8")), log);
    if (typeof values["cache-token-file"] === "string") {
      const file = values["cache-token-file"];
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (e) {
        throw new Error(`cannot read the cache token file ${file}: ${(e as NodeJS.ErrnoException).code}`);
      }
      cacheToken = text.split("\n")[0]?.trim();
      if (!cacheToken) throw new Error(`${file}: no token on its first line`);
    }
  } catch (e) {
    fail((e as Error).message, 2);
  }
  const commit = typeof values.commit === "string" ? values.commit : deployedCommit(root);
  let stop = false;
  process.once("SIGTERM", () => (stop = true));
  process.once("SIGINT", () => (stop = true));
  serve(
    {
      root,
      once: values.once === true,
      dryRun: values["dry-run"] === true,
      commit,
      ...(typeof values["page-url"] === "string" ? { pageUrl: values["page-url"] } : {}),
      ...(typeof values["cache-url"] === "string" ? { cacheUrl: values["cache-url"] } : {}),
      ...(cacheToken ? { cacheToken } : {}),
      checkSeconds: number("check-seconds", 300),
      retryMinutes: number("retry-minutes", 60),
      ...(Array.isArray(values.exclude) && values.exclude.length > 0 ? { exclude: values.exclude } : {}),
      notifier,
      log,
    },
    () => stop,
  ).then(
    (ok) => process.exit(values.once === true && !ok ? 1 : 0),
    (e: Error) => fail(e.message, 1),
  );
}

if (require.main === module) main(process.argv.slice(2));
