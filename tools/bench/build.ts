/**
 * What Nx adds to real builds: `nx run-many -t build-amd64` over N compiler
 * images, against a plain shell loop running the same `docker buildx build`
 * commands. Both start from an empty BuildKit cache and push to a registry
 * that has none of the images, one build at a time. Rounds alternate which
 * side goes first, each round in a fresh staging repository (so neither side
 * finds the other's builds); it prints the medians and their ratio against
 * issue 8's target (≤ 1.2×). Needs the parts tools/ci/setup-docker.sh starts.
 *
 *   npm run bench:build [-- --images 4]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { makeOpamRepository, makeTestBase, requireDockerEnvironment, withLogin } from "../testing/docker";
import { readCommandLine } from "../cli/cli";
import { createWorkspace, smallFixture } from "../testing/workspace";

const values = readCommandLine({
  name: "bench:build",
  usage: "npm run bench:build [-- --images=4]",
  summary: "Times nx run-many -t build-amd64 over N compiler images against a plain docker buildx loop; needs tools/ci/setup-docker.sh.",
  options: { images: { kind: "count", value: "n", default: 4, description: "how many compiler images to build" } },
} as const);
const count = values.images;

/** Rounds of the comparison; the medians are reported. */
const ROUNDS = 3;
const TARGET = 1.2;

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
  const viaNx: number[] = [];
  const viaLoop: number[] = [];

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
      const script = compilers
        .map((c) => {
          const ctx = join(loop, c);
          return [
            `mkdir -p ${ctx}`,
            `sed '1{/^# syntax=/d}' ${ws.path(`dist/images/${c}/render/amd64.Dockerfile`)} | sed '1{/^$/d}' > ${ctx}/Dockerfile`,
            `docker buildx build --platform linux/amd64 --file ${ctx}/Dockerfile --tag ${staging}:${c}-loop-amd64 --provenance=false --sbom=false --push --progress=plain ${ctx} >${ctx}.log 2>&1 || { tail -20 ${ctx}.log >&2; exit 1; }`,
          ].join(" && ");
        })
        .join("\n");
      writeFileSync(join(loop, "loop.sh"), `set -e\n${script}\n`);

      const sides = [
        async () => {
          await prune();
          const start = performance.now();
          await nx(["run-many", "-t", "build-amd64", "--projects", compilers.join(","), "--parallel=1"], { OBI_PARALLEL: "1" });
          viaNx.push((performance.now() - start) / 1000);
        },
        async () => {
          await prune();
          const start = performance.now();
          await withLogin(env, (dockerEnv) => execa("bash", [join(loop, "loop.sh")], { env: dockerEnv }));
          viaLoop.push((performance.now() - start) / 1000);
        },
      ];
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) await side();
    } finally {
      rmSync(loop, { recursive: true, force: true });
      ws.dispose();
    }
  }

  const ratio = middle(viaNx) / middle(viaLoop);
  const each = (xs: number[]) => xs.map((x) => x.toFixed(1)).join(", ");
  console.log(`build benchmark: ${count} compiler images, amd64, one at a time, empty BuildKit cache, ${ROUNDS} rounds (medians)`);
  console.log(`  nx run-many -t build-amd64     ${middle(viaNx).toFixed(1)} s   (${each(viaNx)})`);
  console.log(`  plain docker buildx loop       ${middle(viaLoop).toFixed(1)} s   (${each(viaLoop)})`);
  console.log(`  4. ratio nx / loop             ${ratio.toFixed(2)}x  target <= ${TARGET.toFixed(2)}x  ${ratio <= TARGET ? "met" : "NOT met"}`);
  console.log("  (nx's time includes building the project graph and one registry look-up per build)");
}

main().catch((e) => {
  console.error(e instanceof Error ? `${e.message}\n${(e as { stderr?: string }).stderr ?? ""}` : e);
  process.exitCode = 1;
});
