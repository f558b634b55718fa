/**
 * The builder options' schema: what a site may say about where each arch (and
 * Windows) builds. Shared by the plugin options (nx.json) and the build
 * executor's options; settings.ts resolves them with their environment overrides.
 */
import { z } from "zod";
import { ARCHES } from "../../../libs/ocaml/src";

/** What builders are named for: each arch's Linux builds, and Windows builds (amd64). */
export const BUILDER_KEYS = [...ARCHES, "windows"] as const;
export type BuilderKey = (typeof BUILDER_KEYS)[number];

const slots = z.number().int().min(1).optional().describe("How many builds it takes at once (default: the batch's parallelism, OBI_PARALLEL).");
const file = (what: string) => z.string().min(1).describe(`A file holding ${what}; read when a build runs, never copied anywhere but a private temporary folder.`);

export const builderObjectSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("buildx"), name: z.string().min(1).describe("The buildx builder's name."), slots }),
  z.strictObject({ kind: z.literal("context"), name: z.string().min(1).describe("The docker context's name."), slots }),
  z.strictObject({
    kind: z.literal("ssh"),
    host: z.string().regex(/^ssh:\/\/[^@/\s]+@[^:/\s]+(:\d+)?$/, "must be ssh://user@host or ssh://user@host:port").describe("ssh://user@host[:port]"),
    keyFile: file("the SSH private key"),
    knownHostsFile: file("the engine host's SSH public key, in known_hosts form (`[host]:port ssh-ed25519 …`)"),
    slots,
  }),
  z.strictObject({
    kind: z.literal("tls"),
    host: z.string().regex(/^tcp:\/\/[^:/\s]+:\d+$/, "must be tcp://host:port").describe("tcp://host:port"),
    caFile: file("the CA certificate the engine's certificate is signed by"),
    certFile: file("the client certificate"),
    keyFile: file("the client certificate's private key"),
    slots,
  }),
]);

/** A builder: a plain name is a buildx builder's; an object says which kind. */
export const builderSchema = z.union([z.string().min(1), builderObjectSchema]);
export type BuilderOption = z.input<typeof builderSchema>;
export type BuilderObject = z.output<typeof builderObjectSchema>;

/** The long form of a builder option. */
export const normalizeBuilder = (option: BuilderOption): BuilderObject => (typeof option === "string" ? { kind: "buildx", name: option } : option);

/** The builder per key, as the plugin options declare them. */
export const buildersSchema = z.partialRecord(z.enum(BUILDER_KEYS), builderSchema);

/** Which builder a build uses: Windows builds the `windows` one, Linux builds their arch's. */
export const builderKeyOf = (os: "linux" | "windows", arch: (typeof ARCHES)[number]): BuilderKey => (os === "windows" ? "windows" : arch);

/** The operating systems a site may build. */
export const OSES = ["linux", "windows"] as const;
