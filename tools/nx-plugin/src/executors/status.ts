/**
 * status: the state of every build and publish, from the plan and the records
 * under dist/images/. Writes dist/status/index.html and status.json, or with
 * --serve serves them on loopback, recomputed as the records change.
 *
 *   npx nx run images:status                 npx nx run images:status --serve [--port=8080] [--host=127.0.0.1]
 *
 * This file is the edge: it reads the files and the clock and hands the pure
 * status model (libs/status) plain values.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { hostname } from "node:os";
import { join, relative } from "node:path";
import type { ExecutorContext } from "@nx/devkit";
import type { z } from "zod";
import { loadMatrix } from "../../../../libs/matrix/src";
import { imageAbout, makePlan, type Build, type Plan } from "../../../../libs/plan/src";
import {
  CONTENT_SECURITY_POLICY,
  makeStatus,
  renderPage,
  SERVICE_RUN_FILE,
  serviceRunSchema,
  type Dated,
  type ImageRecords,
  type ServiceRun,
  type StatusDocument,
} from "../../../../libs/status/src";
import {
  buildId,
  DIST_LAYOUT,
  dockerfileAsBuilt,
  dryBuildRecordSchema,
  dryPublishRecordSchema,
  parseRecord,
  realBuildRecordSchema,
  realPublishRecordSchema,
  REDO,
  renderedContext,
  runRecordSchema,
  type RecordMode,
  type RunOwner,
  type RunRecord,
} from "../../../../libs/records/src";
import { describedAs, ownerAlive } from "../../../../libs/docker/src";
import { DEFAULT_REBUILD_PERIOD_DAYS } from "../config";
import { describeImage, rebuildPeriod, resolveRepositories, resolveRetirement } from "../settings";
import { say, writeWhole } from "./shared";
import { statusMetrics } from "./metrics";
import { parseOptions, type StatusOptions } from "./options";

export type { StatusOptions };

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8080;
export const STATUS_DIR = DIST_LAYOUT.status;

/** Reads one record (a path relative to the workspace) if its file is there, checked, with the time the file was written. */
function readDated<T>(root: string, file: string, schema: z.ZodType<T>, redo: string): Dated<T> | undefined {
  const path = join(root, file);
  if (!existsSync(path)) return undefined;
  let text: string;
  let at: string;
  try {
    text = readFileSync(path, "utf8");
    at = statSync(path).mtime.toISOString();
  } catch (e) {
    // Replaced between the check and the read (records are renamed into place): read as absent.
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  return { record: parseRecord(schema, text, file, redo), at };
}

/**
 * Every record dist/ holds for the images of the plan: a real run's (each of its
 * own kind: a dry record where a real one belongs is refused) and a dry run's.
 */
export function readRecords(root: string, plan: Plan): Map<string, ImageRecords> {
  const records = new Map<string, ImageRecords>();
  const real: RecordMode = "real";
  for (const image of plan.images) {
    const hasReal = existsSync(join(root, DIST_LAYOUT.recordsDir("real", image.name)));
    const hasDry = existsSync(join(root, DIST_LAYOUT.recordsDir("dry", image.name)));
    if (!hasReal && !hasDry) continue;
    const builds = new Map<string, Dated<z.output<typeof realBuildRecordSchema>>>();
    const dryBuilds = new Map<string, Dated<z.output<typeof dryBuildRecordSchema>>>();
    const buildRuns = new Map<string, RunRecord>();
    for (const b of image.builds) {
      const build = readDated(root, DIST_LAYOUT.buildRecord(real, image.name, b.arch), realBuildRecordSchema, REDO.build(real, image.name, b.arch));
      if (build) builds.set(b.arch, build);
      const dry = readDated(root, DIST_LAYOUT.buildRecord("dry", image.name, b.arch), dryBuildRecordSchema, REDO.build("dry", image.name, b.arch));
      if (dry) dryBuilds.set(b.arch, dry);
      const run = readDated(root, DIST_LAYOUT.buildRun(real, image.name, b.arch), runRecordSchema, REDO.build(real, image.name, b.arch))?.record;
      if (run) buildRuns.set(b.arch, run);
    }
    const publish = readDated(root, DIST_LAYOUT.publishRecord(real, image.name), realPublishRecordSchema, REDO.publish(real, image.name));
    const dryPublish = readDated(root, DIST_LAYOUT.publishRecord("dry", image.name), dryPublishRecordSchema, REDO.publish("dry", image.name));
    const publishRun = readDated(root, DIST_LAYOUT.publishRun(real, image.name), runRecordSchema, REDO.publish(real, image.name))?.record;
    records.set(image.name, {
      builds,
      buildRuns,
      dryBuilds,
      ...(publish ? { publish } : {}),
      ...(publishRun ? { publishRun } : {}),
      ...(dryPublish ? { dryPublish } : {}),
    });
  }
  return records;
}

/** The plan and what stays fixed while it does: titles, Dockerfiles, and each build's id given its parent's digest. */
export interface StatusSource {
  readonly plan: Plan;
  readonly repositories: { readonly staging: string; readonly public: string };
  readonly distros: readonly { name: string; title: string; family: string | null }[];
  readonly dockerfiles: ReadonlyMap<string, string>;
  readonly buildIdOf: (build: Build, parentDigest: string | null) => string;
}

export function statusSource(root: string, options: StatusOptions): StatusSource {
  const repositories = resolveRepositories(options);
  const matrix = loadMatrix(root);
  const plan = makePlan(matrix, {
    repositories,
    pins: "commit",
    ...(options.site ? { site: options.site } : {}),
    retirement: resolveRetirement(options.deprecationGraceDays),
  });
  const period = rebuildPeriod(options.rebuildPeriodDays ?? DEFAULT_REBUILD_PERIOD_DAYS);
  const imageOf = new Map(plan.images.map((i) => [i.name, i]));
  const contexts = new Map(plan.images.map((i) => [i.name, renderedContext(plan, i)]));
  const ids = new Map<string, string>();
  return {
    plan,
    repositories,
    distros: matrix.distros.map((d) => ({ name: d.name, title: d.title, family: d.family })),
    dockerfiles: new Map(plan.images.flatMap((i) => i.builds.map((b) => [`${i.name}/${b.arch}`, b.dockerfile] as const))),
    // The same computation the build executor makes, so a record is current exactly when the next run would reuse it.
    buildIdOf: (build, parentDigest) => {
      const key = `${build.id} ${parentDigest}`;
      let id = ids.get(key);
      if (id === undefined) {
        const context = contexts.get(build.image) ?? renderedContext(plan, imageOf.get(build.image) as Plan["images"][number]);
        const dockerfile = dockerfileAsBuilt(build.dockerfile, Boolean(options.builtinFrontend));
        const image = imageOf.get(build.image) as Plan["images"][number];
        const labels = describedAs(describeImage(imageAbout(image), options.imageMetadata));
        id = buildId({ platform: `${build.os}/${build.arch}`, dockerfile, context, parentDigest, period, labels });
        ids.set(key, id);
      }
      return id;
    },
  };
}

/** Gone: a process of this host that no longer runs; another host's runs are taken at their word. */
export const runnerGone = (runner: RunOwner): boolean => runner.host === hostname() && !ownerAlive({ pid: runner.pid, started: runner.started });

export function currentStatus(root: string, source: StatusSource): StatusDocument {
  return currentState(root, source).status;
}

/** The status with the records it was made from. */
function currentState(root: string, source: StatusSource): { status: StatusDocument; records: Map<string, ImageRecords> } {
  const records = readRecords(root, source.plan);
  const status = makeStatus({
    plan: source.plan,
    repositories: source.repositories,
    distros: source.distros,
    records,
    buildIdOf: source.buildIdOf,
    generatedAt: new Date().toISOString(),
    runnerGone,
  });
  return { status, records };
}

/** The pipeline service's run record, when it has written one. */
export const readServiceRun = (root: string): ServiceRun | undefined =>
  readDated(root, SERVICE_RUN_FILE, serviceRunSchema, "the pipeline service writes it again at its next run")?.record;

const statusJson = (status: StatusDocument): string => JSON.stringify({ $schema: "../../images/schema/status.schema.json", ...status }, null, 1) + "\n";

/** Writes index.html and status.json under the output folder; returns their paths. */
export function writeStatus(root: string, options: StatusOptions): { page: string; json: string; status: StatusDocument } {
  const source = statusSource(root, options);
  const status = currentStatus(root, source);
  const dir = join(root, options.outputDir ?? STATUS_DIR);
  const page = join(dir, "index.html");
  const json = join(dir, "status.json");
  writeWhole(json, statusJson(status));
  writeWhole(page, renderPage(status, source.dockerfiles, options.pollMs ? { pollMs: options.pollMs } : {}));
  return { page, json, status };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Serves the page, status.json and /metrics, each computed afresh (at most
 * every quarter second), and nothing else. On loopback, requests must name a
 * loopback host, so a web page cannot reach the server by rebinding a name;
 * with `allowedHosts` (a deployment's own names), requests must name a
 * loopback host or one of those, wherever it listens.
 */
export function serveStatus(root: string, options: StatusOptions, log: (line: string) => void = say): Promise<Server> {
  const source = statusSource(root, options);
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const allowed = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
  const metrics = statusMetrics();
  let cached: { at: number; state: ReturnType<typeof currentState> } | undefined;
  const state = () => {
    const now = Date.now();
    if (!cached || now - cached.at > 250) cached = { at: now, state: currentState(root, source) };
    return cached.state;
  };
  const status = () => state().status;
  const send = (res: ServerResponse, code: number, type: string, body: string, head: boolean) => {
    res.writeHead(code, {
      "content-type": `${type}; charset=utf-8`,
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "content-security-policy": CONTENT_SECURITY_POLICY,
    });
    res.end(head ? undefined : body);
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const head = req.method === "HEAD";
    if (req.method !== "GET" && !head) return send(res, 405, "text/plain", "only GET\n", false);
    const requested = (req.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1");
    if (allowed.size > 0 ? !LOOPBACK.test(requested) && !allowed.has(requested.toLowerCase()) : LOOPBACK.test(host) && !LOOPBACK.test(requested)) {
      return send(res, 403, "text/plain", allowed.size > 0 ? "not an allowed host\n" : "not a loopback host\n", head);
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      const { status: now, records } = state();
      metrics
        .text({ status: now, records, rebuildPeriodDays: options.rebuildPeriodDays ?? DEFAULT_REBUILD_PERIOD_DAYS, serviceRun: readServiceRun(root) })
        .then(
          (text) => {
            res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store", "x-content-type-options": "nosniff" });
            res.end(head ? undefined : text);
          },
          (e: Error) => {
            log(`status: metrics: ${e.message}`);
            send(res, 500, "text/plain", `${e.message}\n`, head);
          },
        );
      return;
    }
    try {
      if (path === "/" || path === "/index.html") return send(res, 200, "text/html", renderPage(status(), source.dockerfiles, options.pollMs ? { pollMs: options.pollMs } : {}), head);
      if (path === "/status.json") return send(res, 200, "application/json", statusJson(status()), head);
    } catch (e) {
      log(`status: ${(e as Error).message}`);
      return send(res, 500, "text/plain", `${(e as Error).message}\n`, head);
    }
    return send(res, 404, "text/plain", "not found\n", head);
  };
  return new Promise((resolve, reject) => {
    const server = createServer(handle);
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      const shown = typeof address === "object" && address ? `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}` : `${host}:${port}`;
      log(`status: serving http://${shown}/ (page, status.json and /metrics; Ctrl-C stops)`);
      resolve(server);
    });
  });
}

export default async function status(rawOptions: StatusOptions, context: ExecutorContext): Promise<{ success: boolean }> {
  try {
    const options = parseOptions("status", rawOptions);
    if (!options.serve) {
      const written = writeStatus(context.root, options);
      const c = written.status.counts.builds;
      say(`status: ${Object.entries(c).filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s}`).join(", ")}`);
      say(`status: wrote ${relative(context.root, written.page)} and ${relative(context.root, written.json)}`);
      return { success: true };
    }
    const server = await serveStatus(context.root, options);
    await new Promise<void>((resolve) => {
      const stop = () => server.close(() => resolve());
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
    return { success: true };
  } catch (e) {
    say(`status failed: ${(e as Error).message}`);
    return { success: false };
  }
}
