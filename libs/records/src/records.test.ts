import { describe, expect, it } from "vitest";
import { buildRecordSchema, DIST_LAYOUT, NX_PATHS, parseRecord, publishRecordSchema, REDO, runRecordSchema } from ".";

const real = {
  dryRun: false,
  image: "alpine-3.23-opam",
  arch: "amd64",
  platform: "linux/amd64",
  stagingRepo: "localhost:5000/opam-staging",
  stagingTag: "localhost:5000/opam-staging:alpine-3.23-opam-amd64",
  buildId: "a".repeat(64),
  digest: `sha256:${"b".repeat(64)}`,
};
const file = DIST_LAYOUT.buildRecord("real", real.image, real.arch);
const redo = REDO.build("real", real.image, real.arch);
const parse = (value: unknown) => parseRecord(buildRecordSchema, JSON.stringify(value), file, redo);

describe("the records of dist/", () => {
  it("reads a real build record and a dry one, which has no digest", () => {
    expect(parse(real)).toEqual(real);
    const { digest: _digest, ...dry } = { ...real, dryRun: true };
    expect(parse(dry)).toEqual(dry);
    expect(() => parse({ ...dry, digest: real.digest })).toThrow(/\.json: digest: not a field of this record \(found "sha256:b+"\); write it again: /);
  });

  it("refuses a damaged record in one line: file, field, value, and the command that writes it again", () => {
    const refusal = (value: unknown) => {
      try {
        parse(value);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(refusal({ ...real, digest: real.stagingTag })).toBe(
      `dist/images/alpine-3.23-opam/build-amd64.json: digest: not a sha256 digest (found "${real.stagingTag}"); write it again: npx nx run alpine-3.23-opam:build-amd64 --skip-nx-cache`,
    );
    expect(refusal({ ...real, digest: null })).toMatch(/^dist\/images\/alpine-3\.23-opam\/build-amd64\.json: digest: .*\(found null\); write it again: /);
    expect(refusal({ ...real, buildId: "xyz" })).toMatch(/: buildId: not a build id \(64 hex digits\) \(found "xyz"\)/);
    expect(() => parseRecord(buildRecordSchema, "{", file, redo)).toThrow(/^dist\/images\/alpine-3\.23-opam\/build-amd64\.json: not JSON: .*; write it again: npx nx run/);
    for (const bad of [{ ...real, digest: real.stagingTag }, "{"]) {
      try {
        typeof bad === "string" ? parseRecord(buildRecordSchema, bad, file, redo) : parse(bad);
      } catch (e) {
        expect((e as Error).message).not.toContain("\n");
      }
    }
  });

  it("keeps a publish record's digests sha256 and its sources by digest; a dry one names tags", () => {
    const manifests = [{ tag: "localhost:5000/opam:alpine", sources: [`localhost:5000/opam-staging@sha256:${"c".repeat(64)}`], changed: true, digest: `sha256:${"d".repeat(64)}` }];
    const record = { dryRun: false, image: "alpine-3.23-opam", publicRepo: "localhost:5000/opam", manifests };
    expect(publishRecordSchema.parse(record)).toEqual(record);
    expect(publishRecordSchema.safeParse({ ...record, manifests: [{ ...manifests[0], sources: ["localhost:5000/opam-staging:build-1"] }] }).success).toBe(false);
    expect(publishRecordSchema.safeParse({ ...record, manifests: [{ ...manifests[0], digest: null }] }).success).toBe(false);
    expect(publishRecordSchema.parse({ dryRun: true, image: "x", publicRepo: "r", manifests: [{ tag: "r:x", sources: ["s:build-1"] }] }).dryRun).toBe(true);
  });

  it("lets a run record's state gain fields without touching the others", () => {
    const at = "2026-01-01T00:00:00.000Z";
    expect(runRecordSchema.parse({ state: "running", task: "x:build-amd64", at, owner: { host: "h", pid: 1 } })).toMatchObject({ state: "running" });
  });

  it("declares a record output for the real path and, only when the options say dryRun, the dry-run path instead", () => {
    expect(NX_PATHS.buildOutputs("real", "x", "amd64")).toEqual([
      "{workspaceRoot}/dist/images/x/build-amd64.json",
      "!{workspaceRoot}/dist/images/x/{options.dryRun}/../build-amd64.json",
      "{workspaceRoot}/dist/dry-run/x/{options.dryRun}/../build-amd64.json",
    ]);
  });

  it("declares only the dry-run path, plainly, when the graph itself is dry", () => {
    expect(NX_PATHS.buildOutputs("dry", "x", "amd64")).toEqual(["{workspaceRoot}/dist/dry-run/x/build-amd64.json"]);
    expect(NX_PATHS.publishOutputs("dry", "x")).toEqual(["{workspaceRoot}/dist/dry-run/x/publish.json"]);
  });
});
