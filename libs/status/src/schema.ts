/**
 * status.json: what is built and published, for machines (a CI service asks
 * it which base images exist and at which digests). The JSON Schema made
 * from this zod schema is committed as images/schema/status.schema.json.
 */
import { z } from "zod";

/** Every state a build (one image on one arch) can be in. */
export const BUILD_STATES = ["not-built", "would-build", "queued", "building", "built", "reused", "published", "stale", "failed"] as const;
export type BuildStateName = (typeof BUILD_STATES)[number];

/** Every state an image's publish (its manifest lists) can be in. */
export const PUBLISH_STATES = ["not-published", "would-publish", "queued", "publishing", "published", "stale", "failed"] as const;
export type PublishStateName = (typeof PUBLISH_STATES)[number];

const isoTime = z.iso.datetime();
const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: "not a sha256 digest" });

const buildInfo = z.object({
  buildId: z.string().describe("the hash of everything that determines the build; also tagged build-<id> in the staging repository"),
  digest: digest.describe("the pushed image's digest"),
  stagingTag: z.string(),
  builtAt: isoTime.describe("when the build record was written"),
  reused: z.boolean().describe("the registry already held this build id; nothing was built"),
});

const failure = z.object({
  startedAt: isoTime,
  failedAt: isoTime,
  message: z.string(),
  logTail: z.array(z.string()).describe("the last lines the task printed"),
});

export const buildStateSchema = z.discriminatedUnion("state", [
  z.object({ state: z.literal("not-built"), note: z.string().nullable() }),
  z.object({
    state: z.literal("would-build"),
    buildId: z.string().describe("the build id a dry run gave it; a real run builds it unless the staging repository holds that id"),
    stagingTag: z.string(),
    plannedAt: isoTime.describe("when the dry run wrote its record"),
  }),
  z.object({ state: z.literal("queued"), since: isoTime, previous: buildInfo.nullable() }),
  z.object({ state: z.literal("building"), since: isoTime, previous: buildInfo.nullable() }),
  z.object({ state: z.literal("built"), build: buildInfo }),
  z.object({ state: z.literal("reused"), build: buildInfo }),
  z.object({ state: z.literal("published"), build: buildInfo, tags: z.array(z.string()) }),
  z.object({ state: z.literal("stale"), build: buildInfo, reason: z.string() }),
  z.object({ state: z.literal("failed"), failure, previous: buildInfo.nullable() }),
]);
export type BuildState = z.output<typeof buildStateSchema>;

const publishedTag = z.object({
  tag: z.string().describe("the public reference, repository and tag"),
  digest: digest.describe("the manifest list's digest"),
  arches: z.array(z.object({ arch: z.string().nullable(), digest: z.string() })).describe("the images it lists"),
});

export const publishStateSchema = z.discriminatedUnion("state", [
  z.object({ state: z.literal("not-published"), note: z.string().nullable() }),
  z.object({ state: z.literal("would-publish"), plannedAt: isoTime.describe("when the dry run wrote its record"), tags: z.array(z.string()).describe("the tags it would push") }),
  z.object({ state: z.literal("queued"), since: isoTime }),
  z.object({ state: z.literal("publishing"), since: isoTime }),
  z.object({ state: z.literal("published"), publishedAt: isoTime, tags: z.array(publishedTag) }),
  z.object({ state: z.literal("stale"), publishedAt: isoTime, tags: z.array(publishedTag), reason: z.string() }),
  z.object({ state: z.literal("failed"), failure }),
]);
export type PublishState = z.output<typeof publishStateSchema>;

const build = z.object({
  arch: z.string(),
  platform: z.string(),
  stagingTag: z.string(),
  rerun: z.string().describe("the command that runs this build again"),
  status: buildStateSchema,
});

const image = z.object({
  name: z.string(),
  kind: z.enum(["opam", "compiler", "archive", "windows-all", "deprecated"]),
  distro: z.string(),
  compiler: z.string().nullable(),
  builds: z.array(build),
  publish: z.object({ tags: z.array(z.string()).describe("the public tags the plan gives it"), rerun: z.string(), status: publishStateSchema }),
});

const countsOf = <T extends readonly [string, ...string[]]>(names: T) =>
  z.object(Object.fromEntries(names.map((n) => [n, z.number().int().min(0)])) as { [K in T[number]]: z.ZodNumber });

export const statusSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1),
    generatedAt: isoTime,
    repositories: z.object({ staging: z.string(), public: z.string() }).describe("the repositories the status is for: records made for others count as absent"),
    counts: z.object({ builds: countsOf(BUILD_STATES), publishes: countsOf(PUBLISH_STATES) }),
    distros: z.array(z.object({ name: z.string(), title: z.string(), family: z.string().nullable() })).describe("the groups, in plan order"),
    images: z.array(image).describe("every image of the plan, in plan order"),
    tags: z
      .array(publishedTag.extend({ image: z.string(), publishedAt: isoTime, current: z.boolean() }))
      .describe("every public tag a real publish record lists; current is false when its image's builds moved since"),
    staging: z
      .array(buildInfo.extend({ image: z.string(), arch: z.string(), current: z.boolean() }))
      .describe("every staging build a real build record lists; current is false when its inputs moved since"),
  })
  .strict();
export type StatusDocument = z.output<typeof statusSchema>;
