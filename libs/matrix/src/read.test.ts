/**
 * images/ as a hostile pull request may leave it (issue 16, §5): links to
 * secrets, to other JSON and to devices, FIFOs, odd bytes and characters,
 * on real files in a temporary copy of the matrix.
 */
import { spawn, execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadMatrix, MatrixError } from ".";
import { updatePins } from "../../pins/src";

const WORKSPACE = join(__dirname, "../../..");
const SECRET = "hunter2-registry-password-0123456789";

let root: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "obi-read-"));
  outside = mkdtempSync(join(tmpdir(), "obi-read-outside-"));
  cpSync(join(WORKSPACE, "images"), join(root, "images"), { recursive: true });
  writeFileSync(join(outside, "registry-password"), `${SECRET}\n`);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function problems(): string[] {
  try {
    loadMatrix(root);
  } catch (e) {
    if (e instanceof MatrixError) return [...e.problems];
    throw e;
  }
  return [];
}

/** Replaces a file of the copy with a link to `target`. */
function link(file: string, target: string): void {
  rmSync(join(root, file), { recursive: true });
  symlinkSync(target, join(root, file));
}

const LINK = "a symbolic link; images/ holds regular files and folders only";

describe("loadMatrix reads only regular files of the workspace", () => {
  it("refuses an image.json linked to a secret file in one line, without a byte of the secret", () => {
    link("images/alpine-3.23/image.json", join(outside, "registry-password"));
    const found = problems();
    expect(found).toEqual([`images/alpine-3.23/image.json: ${LINK}`]);
    expect(found.join("\n")).not.toContain(SECRET.slice(0, 3));
  });

  it("refuses a link to another JSON file, inside the workspace too, without its values", () => {
    writeFileSync(join(root, "settings.json"), JSON.stringify({ family: "debian", token: "tok-abcdef-123456" }));
    link("images/alpine-3.23/image.json", "../../settings.json");
    link("images/compilers.json", "alpine-3.24/image.json");
    const found = problems();
    expect(found).toEqual([`images/compilers.json: ${LINK}`, `images/alpine-3.23/image.json: ${LINK}`]);
    expect(found.join("\n")).not.toMatch(/tok-|debian|alpine-3\.24"/);
  });

  it("refuses a distro folder, a hidden entry and images/ itself when they are links", () => {
    mkdirSync(join(outside, "evil"));
    cpSync(join(root, "images/debian-13/image.json"), join(outside, "evil/image.json"));
    symlinkSync(join(outside, "evil"), join(root, "images/evil"));
    symlinkSync(join(outside, "registry-password"), join(root, "images/debian-13/.image.json.swp"));
    expect(problems()).toEqual([
      `images/evil: ${LINK}`,
      `images/debian-13/.image.json.swp: ${LINK}`,
    ]);
    renameSync(join(root, "images"), join(outside, "images"));
    symlinkSync(join(outside, "images"), join(root, "images"));
    expect(problems()).toEqual([`images: ${LINK}`]);
  });

  it("refuses a link to /dev/zero at once", () => {
    link("images/opam.json", "/dev/zero");
    const started = Date.now();
    expect(problems()).toEqual([`images/opam.json: ${LINK}`]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  // Bounded on old code too: a helper opens the FIFO for writing after 3 s, which unblocks a reader stuck in open().
  it("refuses a FIFO without waiting for a writer", { timeout: 30_000 }, async () => {
    const fifo = join(root, "images/alpine-3.23/image.json");
    rmSync(fifo);
    execFileSync("mkfifo", [fifo]);
    const unblock = spawn("sh", ["-c", `sleep 3; exec 3>"$1"`, "sh", fifo], { stdio: "ignore" });
    try {
      const started = Date.now();
      const found = problems();
      expect(Date.now() - started).toBeLessThan(2000);
      expect(found).toEqual(["images/alpine-3.23/image.json: a FIFO; images/ holds regular files and folders only"]);
    } finally {
      unblock.kill("SIGKILL");
    }
  });
});

describe("loadMatrix reads only text that is safe to show", () => {
  const edit = (file: string, change: (text: string) => string) => writeFileSync(join(root, file), change(readFileSync(join(root, file), "utf8")));

  it("accepts a UTF-8 byte order mark", () => {
    edit("images/debian-13/image.json", (text) => `\uFEFF${text}`);
    edit("images/compilers.json", (text) => `\uFEFF${text}`);
    expect(problems()).toEqual([]);
    expect(loadMatrix(root).distros.find((d) => d.name === "debian-13")?.title).toBe("Debian 13 (Trixie)");
  });

  it("refuses an escape character and a right-to-left override, naming the file and field, never printing them", () => {
    edit("images/debian-13/image.json", (text) => text.replace(/"title": "/, '"title": "\\u001b[2J'));
    edit("images/alpine-3.24/image.json", (text) => text.replace(/"aliases": \[\s*"/, '"aliases": ["\u202Egpj.'));
    const found = problems();
    expect(found).toEqual([
      "images/alpine-3.24/image.json: aliases.0: holds U+202E; text in images/ may not hold control or bidirectional characters",
      "images/debian-13/image.json: title: holds U+001B; text in images/ may not hold control or bidirectional characters",
    ]);
    expect(found.join("\n")).not.toMatch(/[\u001b\u202E]/);
  });

  it("refuses a key holding a bidirectional character, and a folder named with one, escaped", () => {
    edit("images/fedora-44/image.json", (text) => text.replace(/^\{/, '{"ti\u2066er": 1,'));
    mkdirSync(join(root, "images/evil\u202Eexe"));
    const found = problems();
    expect(found).toEqual([
      "images/evil\\u{202E}exe: a name holding U+202E, a control or bidirectional character",
      "images/fedora-44/image.json: ti\\u{2066}er: holds U+2066; text in images/ may not hold control or bidirectional characters",
    ]);
    expect(found.join("\n")).not.toMatch(/[\u2066\u202E]/);
  });

  it("finds a bidirectional character half a million lists deep, in one short line", () => {
    const depth = 400_000;
    writeFileSync(join(root, "images/debian-12/image.json"), `{"title": ${"[".repeat(depth)}"\u202E"${"]".repeat(depth)}}`);
    const found = problems();
    expect(found).toEqual([expect.stringMatching(/^images\/debian-12\/image\.json: title\.0\.0.*…\(400001 deep\)….*\.0: holds U\+202E; /)]);
    expect(found[0]!.length).toBeLessThan(300);
  });

  it("refuses a file that is not UTF-8 in words", () => {
    writeFileSync(join(root, "images/opam-repository.json"), Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(problems()).toEqual(["images/opam-repository.json: (top level): not UTF-8 text"]);
  });
});

describe("updatePins reads images/ through the matrix's reader", () => {
  it("refuses a linked image.json and writes nothing through it", async () => {
    const target = join(outside, "base.json");
    writeFileSync(target, readFileSync(join(root, "images/alpine-3.23/image.json")));
    link("images/alpine-3.23/image.json", target);
    const before = readFileSync(target, "utf8");
    const moved = { branchHead: async () => "f".repeat(40), imageDigest: async () => `sha256:${"e".repeat(64)}`, tags: async () => [] };
    await expect(updatePins(root, moved, { write: true })).rejects.toThrow(`images/alpine-3.23/image.json: ${LINK}`);
    expect(readFileSync(target, "utf8")).toBe(before);
  });
});
