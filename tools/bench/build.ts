/**
 * What Nx adds to real builds: `nx run-many -t build-amd64` over N compiler
 * images, against a plain shell loop running the same `docker buildx build`
 * commands. Both start from an empty BuildKit cache and push to a registry
 * that has none of the images, one build at a time. Rounds alternate which
 * side goes first, each round in a fresh staging repository (so neither side
 * finds the other's builds). It prints the medians of:
 *   - each side's whole run, and their ratio (issue 8's target ≤ 1.2×);
 *   - the start-up apart: from the command's start to its first build's start
 *     (Nx: graph, task runner, hashing; the records say when each build began),
 *     and from its last build's end to its exit;
 *   - what each build costs over the loop's: the span from the first build's
 *     start to the last one's end, Nx's minus the loop's, over N (issue 20's
 *     target ≤ 0.25 s; the registry checks a build makes are inside it).
 * Needs the parts tools/ci/setup-docker.sh starts.
 *
 *   npm run bench:build [-- --images 12]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { makeOpamRepository, makeTestBase, requireDockerEnvironment, withLogin } from "../testing/docker";
import { DIST_LAYOUT, parseRecord, REDO, RUN_STATE_SCHEMAS } from "../../libs/records/src";
import { readCommandLine } from "../cli/cli";
import { createWorkspace, smallFixture } from "../testing/workspace";

const values = readCommandLine({
  name: "bench:build",
  usage: "npm run bench:build [-- --images=12]",
  summary: "Times nx run-many -t build-amd64 over N compiler images against a plain docker buildx loop, per build and start-up apart; needs tools/ci/setup-docker.sh.",
  options: { images: { kind: "count", value: "n", default: 12, description: "how many compiler images to build" } },
} as const);
const count = values.images;

/** Rounds of the comparison; the medians are reported. */
const ROUNDS = 3;
const TARGET = 1.2;
/** Issue 20: seconds a build may cost over the plain loop's. */
const PER_BUILD_TARGET = 0.25;

/** One side's run: when it started and ended, and when its first build started and its last ended (ms since the epoch). */
interface Timeline {
  readonly start: number;
  readonly firstBuild: number;
  readonly lastBuild: number;
  readonly end: number;
}
const startUp = (t: Timeline) => (t.firstBuild - t.start) / 1000;
const tail = (t: Timeline) => (t.end - t.lastBuild) / 1000;
const span = (t: Timeline) => (t.lastBuild - t.firstBuild) / 1000;
const whole = (t: Timeline) => (t.end - t.start) / 1000;

/** When the first of `compilers`' amd64 builds began and the last ended, from the run records the build executor writes. */
function buildTimes(root: string, compilers: readonly string[]): { first: number; last: number } {
  const times = compilers.map((image) => {
    const file = DIST_LAYOUT.buildRun("real", image, "amd64");
    const run = parseRecord(RUN_STATE_SCHEMAS.succeeded, readFileSync(join(root, file), "utf8"), file, REDO.build("real", image, "amd64"));
    return { began: Date.parse(run.startedAt), ended: Date.parse(run.at) };
  });
  return { first: Math.min(...times.map((t) => t.began)), last: Math.max(...times.map((t) => t.ended)) };
}

const middle = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

async function main(): Promise<void> {
  const env = requireDockerEnvironment();
  const prefix = `${env.registry}/bench${Date.now().toString(36)}`;
  await makeTestBase(env, `${prefix}/base/alpine:3.23`);
  const repository = makeOpamRepository();
  const base = smallFixture();
  const releases = Array.from({ length: count }, (_, i) => `5.${i}.0`);
  const compilers = releases.map((r) => `alpine-3.23-ocaml-${r.split(".").slice(0, 2).join(".")}`);
  const nxEnv = { NX_DAEMON: "false", NX_NO_CLOUD: "true", NX_TUI: "false" };
  const prune = () => execa("docker", ["builder", "prune", "-af"]);
  const viaNx: Timeline[] = [];
  const viaLoop: Timeline[] = [];

  for (let round = 0; round < ROUNDS; round++) {
    const staging = `${prefix}/r${round}/staging`;
    const ws = createWorkspace({
      fixture: {
        ...base,
        distros: [
          {
            name: "alpine-3.23",
            json: { family: "alpine", version: "3.23", title: "Alpine", base: { image: `${prefix}/base/alpine`, tag: "3.23" }, arches: { amd64: "" }, tier: 2, default: true, bubblewrap: "0.11.0" },
          },
        ],
        compilers: { releases },
        opam: { ...base.opam, builds: [{ branch: "2.5", commit: "2".repeat(40), aliases: ["opam"] }, { branch: "master", commit: "1".repeat(40) }] },
        opamRepository: { url: repository.url, branch: "master", commit: repository.commit },
      },
      pluginOptions: { dryRun: false, builtinFrontend: true, stagingRepo: staging, publicRepo: `${prefix}/r${round}/opam`, registry: { username: env.username, passwordFile: env.passwordFile } },
    });
    const nx = (args: string[], extra: Record<string, string> = {}) =>
      execa(join(ws.dir, "node_modules/.bin/nx"), args, { cwd: ws.dir, env: { ...nxEnv, NX_CACHE_DIRECTORY: ws.path(".nx/cache"), ...extra } });
    const loop = mkdtempSync(join(tmpdir(), "obi-bench-loop-"));
    try {
      // Both sides start FROM the same pushed opam image.
      await nx(["run", "alpine-3.23-opam:build-amd64"]);
      await nx(["run-many", "-t", "render"]);

      // The same builds as a plain loop: same Dockerfiles, flags and pushes.
      // Each Dockerfile is prepared before the clock's builds start: the loop's span is its builds alone.
      const prepare = compilers.map((c) => {
        const ctx = join(loop, c);
        return `mkdir -p ${ctx} && sed '1{/^# syntax=/d}' ${ws.path(DIST_LAYOUT.dockerfile(c, "amd64"))} | sed '1{/^$/d}' > ${ctx}/Dockerfile`;
      });
      const builds = compilers.map((c) => {
        const ctx = join(loop, c);
        return `docker buildx build --platform linux/amd64 --file ${ctx}/Dockerfile --tag ${staging}:${c}-loop-amd64 --provenance=false --sbom=false --push --progress=plain ${ctx} >${ctx}.log 2>&1 || { tail -20 ${ctx}.log >&2; exit 1; }`;
      });
      const marks = join(loop, "marks");
      writeFileSync(join(loop, "loop.sh"), ["set -e", ...prepare, `date +%s%3N > ${marks}`, ...builds, `date +%s%3N >> ${marks}`, ""].join("\n"));

      const sides = [
        async () => {
          await prune();
          const start = Date.now();
          await nx(["run-many", "-t", "build-amd64", "--projects", compilers.join(","), "--parallel=1"], { OBI_PARALLEL: "1" });
          const end = Date.now();
          const { first, last } = buildTimes(ws.dir, compilers);
          viaNx.push({ start, firstBuild: first, lastBuild: last, end });
        },
        async () => {
          await prune();
          const start = Date.now();
          await withLogin(env, (dockerEnv) => execa("bash", [join(loop, "loop.sh")], { env: dockerEnv }));
          const end = Date.now();
          const [first, last] = readFileSync(join(loop, "marks"), "utf8").trim().split("\n").map(Number);
          if (first === undefined || last === undefined || !Number.isFinite(first) || !Number.isFinite(last)) throw new Error("the loop wrote no time marks");
          viaLoop.push({ start, firstBuild: first, lastBuild: last, end });
        },
      ];
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) await side();
    } finally {
      rmSync(loop, { recursive: true, force: true });
      ws.dispose();
    }
  }

  const median = (runs: Timeline[], part: (t: Timeline) => number) => middle(runs.map(part));
  const each = (runs: Timeline[], part: (t: Timeline) => number) => runs.map((t) => part(t).toFixed(1)).join(", ");
  const row = (label: string, part: (t: Timeline) => number) =>
    console.log(`  ${label.padEnd(34)} ${median(viaNx, part).toFixed(2).padStart(7)} s ${median(viaLoop, part).toFixed(2).padStart(9)} s   (nx ${each(viaNx, part)}; loop ${each(viaLoop, part)})`);
  const ratio = median(viaNx, whole) / median(viaLoop, whole);
  const perBuild = (median(viaNx, span) - median(viaLoop, span)) / count;
  console.log(`build benchmark: ${count} compiler images, amd64, one at a time, empty BuildKit cache, ${ROUNDS} rounds (medians)`);
  console.log(`  ${"".padEnd(34)} ${"nx".padStart(9)} ${"plain loop".padStart(11)}`);
  row("whole run", whole);
  row("start-up (to the first build)", startUp);
  row("the builds (first start to last end)", span);
  row("after the last build", tail);
  console.log(`  4. ratio nx / loop, whole run     ${ratio.toFixed(2)}x  target <= ${TARGET.toFixed(2)}x  ${ratio <= TARGET ? "met" : "NOT met"}`);
  console.log(`  per build over the loop           ${perBuild.toFixed(3)} s  target <= ${PER_BUILD_TARGET} s  ${perBuild <= PER_BUILD_TARGET ? "met" : "NOT met"}`);
  console.log("  (nx's builds include one registry look-up of the build id, the parent check and the build lock each; its start-up, the graph and the task runner)");
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.message}\n${(e as { stderr?: string }).stderr ?? ""}` : e);
  process.exitCode = 1;
});
