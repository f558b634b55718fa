/**
 * /metrics of the status server, in Prometheus text format (prom-client).
 *
 * Upstream's four (ocurrent/docker-base-images, src/metrics.ml), same names and labels:
 *   baseimages_pipeline_image_platform_state_total{platform,state}  images by distro and state (ok, failed, active)
 *   baseimages_pipeline_image_version_state_total{version,state}    compiler images by OCaml version and state
 *   baseimages_pipeline_last_build_time                             when images were last built, Unix seconds
 *   baseimages_pipeline_valid_time                                  how long images stay valid before the rebuild, seconds
 * Upstream exposes those as gauges; a gauge named `…_total` fails promtool's lint,
 * so they are untyped here, which Prometheus stores and queries exactly like a gauge.
 *
 * And ours: build durations per arch and builder, registry retries, builders
 * that did not answer, and the pipeline service's last run. The histograms
 * and counters are fed from the run records under dist/, each record counted
 * once, when the server first sees it.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  BUILD_STATES,
  lastBuildTime,
  lastSuccessOf,
  platformStates,
  versionStates,
  type ImageRecords,
  type ServiceRun,
  type StatusDocument,
} from "../../../../libs/status/src";
import type { RunRecord } from "../../../../libs/records/src";

const PREFIX = "baseimages_pipeline_";

/** A gauge Prometheus reads as untyped: for upstream's `…_total` gauges (see above). */
class Untyped<T extends string> extends Gauge<T> {
  override async get() {
    return { ...(await super.get()), type: "untyped" as never };
  }
}

/** Durations from a minute to half a day: what an image build takes. */
const BUILD_BUCKETS = [1, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200];

export interface MetricsInput {
  readonly status: StatusDocument;
  readonly records: ReadonlyMap<string, ImageRecords>;
  /** The rebuild period in days (0: never). */
  readonly rebuildPeriodDays: number;
  readonly serviceRun: ServiceRun | undefined;
}

export interface StatusMetrics {
  readonly contentType: string;
  /** The text for one scrape, from the status and records as they are now. */
  text(input: MetricsInput): Promise<string>;
}

export function statusMetrics(): StatusMetrics {
  const registry = new Registry();
  const platform = new Untyped({ name: `${PREFIX}image_platform_state_total`, help: "Number of images by platform", labelNames: ["platform", "state"], registers: [registry] });
  const version = new Untyped({ name: `${PREFIX}image_version_state_total`, help: "Number of images by OCaml version", labelNames: ["version", "state"], registers: [registry] });
  const lastBuild = new Gauge({ name: `${PREFIX}last_build_time`, help: "When the images were last built, in unix time", registers: [registry] });
  const valid = new Gauge({ name: `${PREFIX}valid_time`, help: "How long images are valid for until they are rebuilt, in seconds", registers: [registry] });
  const builds = new Gauge({ name: `${PREFIX}builds`, help: "Builds (one image on one arch) by the state the status page shows", labelNames: ["state"], registers: [registry] });
  const duration = new Histogram({
    name: `${PREFIX}build_duration_seconds`,
    help: "How long builds that built (not reused from the registry) took, by arch and builder",
    labelNames: ["arch", "builder"],
    buckets: BUILD_BUCKETS,
    registers: [registry],
  });
  const finished = new Counter({ name: `${PREFIX}build_runs_total`, help: "Build tasks that ended, by arch, builder and outcome", labelNames: ["arch", "builder", "outcome"], registers: [registry] });
  const retries = new Counter({ name: `${PREFIX}registry_retries_total`, help: "Registry steps retried by builds and publishes", labelNames: ["task"], registers: [registry] });
  const unreachable = new Gauge({
    name: `${PREFIX}builder_unreachable`,
    help: "1 when the newest build on a builder failed because the builder did not answer",
    labelNames: ["builder"],
    registers: [registry],
  });
  const lastSuccess = new Gauge({ name: `${PREFIX}last_success_time`, help: "When a run of the pipeline service last succeeded, in unix time (0: never)", registers: [registry] });
  const lastRunFailed = new Gauge({ name: `${PREFIX}last_run_failed`, help: "1 when the pipeline service's last finished run failed", registers: [registry] });
  const running = new Gauge({ name: `${PREFIX}run_in_progress`, help: "1 while the pipeline service runs a period's builds", registers: [registry] });

  // Run records already counted, by file identity (task and start): each ends up in the counters once.
  const seen = new Set<string>();
  const observe = (arch: string | undefined, run: RunRecord) => {
    if (run.state !== "succeeded" && run.state !== "failed") return;
    const key = `${run.task} ${run.startedAt} ${run.at}`;
    if (seen.has(key)) return;
    seen.add(key);
    const kind = arch === undefined ? "publish" : "build";
    if (run.retries) retries.inc({ task: kind }, run.retries);
    if (arch === undefined) return;
    const builder = run.builder ?? "unknown";
    finished.inc({ arch, builder, outcome: run.state });
    if (run.state === "succeeded" && run.reused !== true) {
      duration.observe({ arch, builder }, Math.max(0, (Date.parse(run.at) - Date.parse(run.startedAt)) / 1000));
    }
  };

  return {
    contentType: registry.contentType,
    async text(input) {
      platform.reset();
      for (const c of platformStates(input.status)) platform.set(c.labels, c.value);
      version.reset();
      for (const c of versionStates(input.status)) version.set(c.labels, c.value);
      const built = lastBuildTime(input.status);
      if (built !== undefined) lastBuild.set(built);
      valid.set(input.rebuildPeriodDays * 86_400);
      for (const state of BUILD_STATES) builds.set({ state }, input.status.counts.builds[state]);

      // The newest build run per builder says whether it answered.
      const newest = new Map<string, RunRecord & { state: "succeeded" | "failed" }>();
      for (const records of input.records.values()) {
        for (const [arch, run] of records.buildRuns) {
          observe(arch, run);
          if ((run.state === "succeeded" || run.state === "failed") && run.builder !== undefined && run.builderReachable !== undefined) {
            const was = newest.get(run.builder);
            if (!was || was.at < run.at) newest.set(run.builder, run);
          }
        }
        if (records.publishRun) observe(undefined, records.publishRun);
      }
      unreachable.reset();
      for (const [builder, run] of newest) unreachable.set({ builder }, run.builderReachable === false ? 1 : 0);

      const service = input.serviceRun;
      const success = service ? lastSuccessOf(service) : null;
      lastSuccess.set(success ? Date.parse(success) / 1000 : 0);
      lastRunFailed.set(service?.state === "failed" ? 1 : 0);
      running.set(service?.state === "running" ? 1 : 0);
      return registry.metrics();
    },
  };
}
