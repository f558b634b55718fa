/**
 * What the status reads from dist/ for one image: the records of real runs
 * and of dry runs, each already checked against its schema (libs/records), with
 * the time its file was written.
 */
import type { DryBuildRecord, DryPublishRecord, RealBuildRecord, RealPublishRecord, RunRecord } from "../../records/src";

/** A record with the time its file was last written (the build record itself holds none). */
export interface Dated<T> {
  readonly record: T;
  readonly at: string;
}

/** Everything read from dist/ for one image; absent files are absent. */
export interface ImageRecords {
  /** A real run's build records, by arch. */
  readonly builds: ReadonlyMap<string, Dated<RealBuildRecord>>;
  readonly buildRuns: ReadonlyMap<string, RunRecord>;
  readonly publish?: Dated<RealPublishRecord>;
  readonly publishRun?: RunRecord;
  /** A dry run's build records, by arch (dist/dry-run/): what it would build. */
  readonly dryBuilds?: ReadonlyMap<string, Dated<DryBuildRecord>>;
  readonly dryPublish?: Dated<DryPublishRecord>;
}
