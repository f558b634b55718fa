/**
 * The registry client against a small HTTP server on loopback that answers
 * like a registry: challenges, transient failures, manifests.
 */
import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DigestMismatch, digestOf, RegistryClient, RegistryError } from "./registry";

let server: Server;
let port: number;
const seen: { method: string; path: string; auth?: string }[] = [];
let failuresLeft = 0;
const MANIFEST = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] });
const MANIFEST_DIGEST = digestOf(Buffer.from(MANIFEST));
const OTHER = `sha256:${"e".repeat(64)}`;
const BLOB = Buffer.from("a blob");

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", path: req.url ?? "", ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
    if (req.headers.authorization !== `Basic ${Buffer.from("user:secret").toString("base64")}`) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="test"' });
      return res.end();
    }
    if (failuresLeft > 0) {
      failuresLeft--;
      res.writeHead(503);
      return res.end("try later");
    }
    // A registry (or a proxy) that lies: another digest in the header, or other bytes than asked for.
    if (req.url === "/v2/team/opam/manifests/lying") {
      res.writeHead(200, { "Content-Type": "application/vnd.oci.image.index.v1+json", "Docker-Content-Digest": OTHER });
      return res.end(MANIFEST);
    }
    if (req.url === `/v2/team/opam/manifests/${OTHER}`) {
      res.writeHead(200, { "Content-Type": "application/vnd.oci.image.index.v1+json" });
      return res.end(MANIFEST);
    }
    if (req.url === `/v2/team/opam/blobs/${OTHER}`) {
      res.writeHead(200, { "Content-Type": "application/octet-stream" });
      return res.end(BLOB);
    }
    if (req.url === "/v2/team/opam/manifests/present") {
      res.writeHead(200, { "Content-Type": "application/vnd.oci.image.index.v1+json", "Docker-Content-Digest": MANIFEST_DIGEST });
      return res.end(MANIFEST);
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const address = server.address();
  port = typeof address === "object" && address ? address.port : 0;
});

afterAll(() => server.close());

const client = (password = "secret") =>
  new RegistryClient({ credentials: () => ({ username: "user", password }), sleep: async () => {} });

describe("RegistryClient", () => {
  it("answers a Basic challenge with the credentials and reads a manifest with its digest and type", async () => {
    seen.length = 0;
    const m = await client().getManifest(`127.0.0.1:${port}/team/opam:present`);
    expect(m?.digest).toBe(MANIFEST_DIGEST);
    expect(m?.mediaType).toBe("application/vnd.oci.image.index.v1+json");
    expect(seen.map((r) => Boolean(r.auth))).toEqual([false, true]);
  });

  it("says a missing manifest is undefined, not an error", async () => {
    expect(await client().getManifest(`127.0.0.1:${port}/team/opam:absent`)).toBeUndefined();
  });

  it("retries transient failures and gives up after its attempts", async () => {
    failuresLeft = 2;
    expect((await client().getManifest(`127.0.0.1:${port}/team/opam:present`))?.digest).toBe(MANIFEST_DIGEST);
    failuresLeft = 10;
    await expect(client().getManifest(`127.0.0.1:${port}/team/opam:present`)).rejects.toThrow(/HTTP 503/);
    failuresLeft = 0;
  });

  it("turns a refused password into an error that says what to check, without the password", async () => {
    const error = await client("wrong-password").getManifest(`127.0.0.1:${port}/team/opam:present`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as Error).message).toMatch(/HTTP 401 \(check the registry username and password file\)/);
    expect((error as Error).message).not.toContain("wrong-password");
  });

  it("says HTTP 401 when it has no credentials for a registry that asks for them", async () => {
    const error = await new RegistryClient().getManifest(`127.0.0.1:${port}/team/opam:present`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).status).toBe(401);
    expect((error as Error).message).toMatch(/HTTP 401/);
  });

  it("refuses a manifest whose bytes are not what its Docker-Content-Digest says, naming registry, reference and both digests", async () => {
    const error = await client().getManifest(`127.0.0.1:${port}/team/opam:lying`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatch);
    expect((error as Error).message).toBe(
      `127.0.0.1:${port} answered 127.0.0.1:${port}/team/opam:lying with content whose digest is ${MANIFEST_DIGEST}, though its Docker-Content-Digest says ${OTHER}; refused (the registry, or something between it and us, is not serving what was stored)`,
    );
  });

  it("refuses a manifest or blob read by digest whose bytes are another's", async () => {
    await expect(client().getManifest(`127.0.0.1:${port}/team/opam@${OTHER}`)).rejects.toThrow(`with content whose digest is ${MANIFEST_DIGEST}, not the ${OTHER} asked for`);
    await expect(client().readBlob(`127.0.0.1:${port}/team/opam`, OTHER)).rejects.toThrow(`with content whose digest is ${digestOf(BLOB)}, not the ${OTHER} asked for`);
    // Streamed, the check comes at the end of the body: reading it fails.
    const streamed = await client().getBlob(`127.0.0.1:${port}/team/opam`, OTHER);
    await expect(streamed?.arrayBuffer()).rejects.toThrow(DigestMismatch);
  });
});

describe("RegistryClient.missingBlobs", () => {
  // An image whose layers repeat (BuildKit reuses an empty layer): 3 distinct of 6 layers, plus its config.
  const digest = (c: string) => `sha256:${c.repeat(64)}`;
  const layers = ["a", "b", "a", "c", "b", "d"].map((c) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digest(c), size: 1 }));
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: digest("f"), size: 1 }, layers });

  /** A registry that holds the manifest and every blob but `lost`, answering each HEAD after a while; it counts what it was asked. */
  function slowRegistry(lost: ReadonlySet<string>) {
    const asked: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const path = new URL(String(input)).pathname;
      if (path.includes("/manifests/")) return new Response(manifest, { headers: { "Content-Type": "application/vnd.oci.image.manifest.v1+json" } });
      const blob = path.slice(path.lastIndexOf("/") + 1);
      asked.push(`${init?.method} ${blob}`);
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((ok) => setTimeout(ok, 20));
      inFlight--;
      return new Response(null, { status: lost.has(blob) ? 404 : 200 });
    }) as typeof fetch;
    return { client: new RegistryClient({ fetch: fetchFn, sleep: async () => {} }), asked, mostInFlight: () => mostInFlight };
  }

  it("asks once about each distinct blob, several at a time, and names the missing ones in the manifest's order", async () => {
    const registry = slowRegistry(new Set([digest("d"), digest("b")]));
    const missing = await registry.client.missingBlobs(`registry.test/team/opam:tag`);
    expect(missing).toEqual([digest("b"), digest("d")]);
    expect([...registry.asked].sort()).toEqual([digest("a"), digest("b"), digest("c"), digest("d"), digest("f")].map((d) => `HEAD ${d}`));
    expect(registry.mostInFlight()).toBeGreaterThan(1);
  });

  /**
   * BuildKit's index of an image and its attestation manifest (in-toto layers), as a
   * registry holds it: manifests under the tag and by digest, and every blob but `lost`.
   */
  function indexRegistry(lost: ReadonlySet<string>) {
    const config = JSON.stringify({ os: "linux", architecture: "amd64" });
    const configDigest = digestOf(Buffer.from(config));
    const image = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: configDigest, size: config.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digest("2"), size: 1 }] });
    const attestation = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { digest: digest("3"), size: 1 }, layers: [{ mediaType: "application/vnd.in-toto+json", digest: digest("4"), size: 1 }] });
    const imageDigest = digestOf(Buffer.from(image));
    const attestationDigest = digestOf(Buffer.from(attestation));
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: imageDigest, size: image.length, platform: { os: "linux", architecture: "amd64" } },
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: attestationDigest,
          size: attestation.length,
          platform: { os: "unknown", architecture: "unknown" },
          annotations: { "vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": imageDigest },
        },
      ],
    });
    const manifests = new Map([["tag", index], [digestOf(Buffer.from(index)), index], [imageDigest, image], [attestationDigest, attestation]]);
    const asked: string[] = [];
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const path = new URL(String(input)).pathname;
      const last = path.slice(path.lastIndexOf("/") + 1);
      asked.push(`${init?.method ?? "GET"} ${path.includes("/manifests/") ? "manifest" : "blob"} ${last}`);
      if (path.includes("/manifests/")) {
        const bytes = manifests.get(last);
        if (!bytes || lost.has(last)) return new Response(null, { status: 404 });
        return new Response(bytes, { headers: { "Content-Type": JSON.parse(bytes).mediaType as string } });
      }
      if (init?.method === "GET" && last === configDigest) return new Response(config);
      return new Response(null, { status: lost.has(last) ? 404 : 200 });
    }) as typeof fetch;
    return { client: new RegistryClient({ fetch: fetchFn, sleep: async () => {} }), asked, configDigest, attestationDigest };
  }

  it("looks through BuildKit's index: the image's blobs and its attestation's, and each manifest it lists", async () => {
    const lostLayer = indexRegistry(new Set([digest("2"), digest("4")]));
    expect(await lostLayer.client.missingBlobs("registry.test/team/opam:tag")).toEqual([digest("2"), digest("4")]);
    const lostManifest = indexRegistry(new Set([indexRegistry(new Set()).attestationDigest]));
    expect(await lostManifest.client.missingBlobs("registry.test/team/opam:tag")).toEqual([lostManifest.attestationDigest]);
    expect(await indexRegistry(new Set()).client.missingBlobs("registry.test/team/opam:tag")).toEqual([]);
  });

  it("of an image imagePlatform has read, asks about its blobs and fetches no manifest again", async () => {
    const registry = indexRegistry(new Set([digest("4")]));
    const image = await registry.client.imagePlatform("registry.test/team/opam:tag");
    expect(image?.attestations).toHaveLength(1);
    registry.asked.length = 0;
    expect(await registry.client.missingBlobsOf("registry.test/team/opam:tag", image as NonNullable<typeof image>)).toEqual([digest("4")]);
    expect([...registry.asked].sort()).toEqual([registry.configDigest, ...["2", "3", "4"].map(digest)].sort().map((d) => `HEAD blob ${d}`));
  });
});
