/**
 * The status page: one self-contained HTML file (no CDN, no network) that
 * works from file:// and from the server. The status and the Dockerfiles are
 * embedded as JSON (the Dockerfiles gzipped: they are most of the bytes and
 * nearly all alike) and drawn by the page's script, which only ever sets
 * text. A Content-Security-Policy lets nothing run but that script.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { CLIENT_SCRIPT } from "./client";
import type { StatusDocument } from "./schema";

/** Text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that can sit inside <script type="application/json"> whatever its strings hold. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Each distinct Dockerfile once, and which build uses which, gzipped. */
export function packDockerfiles(dockerfiles: ReadonlyMap<string, string>): { gzip: string } {
  const texts: string[] = [];
  const position = new Map<string, number>();
  const index: Record<string, number> = {};
  for (const [key, text] of dockerfiles) {
    let i = position.get(text);
    if (i === undefined) {
      i = texts.push(text) - 1;
      position.set(text, i);
    }
    index[key] = i;
  }
  return { gzip: gzipSync(JSON.stringify({ texts, index }), { level: 9 }).toString("base64") };
}

const STYLE = `
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --bg: #fff; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", "Liberation Sans", sans-serif; color: var(--fg); background: var(--bg); }
header { position: sticky; top: 0; z-index: 2; background: #f6f8fa; border-bottom: 1px solid var(--line); padding: 8px 16px; }
h1 { font-size: 18px; margin: 0 0 2px; }
#meta { color: var(--muted); margin: 0 0 6px; }
#counts { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin-bottom: 6px; }
.count { border: 1px solid var(--line); border-radius: 12px; padding: 2px 10px; cursor: pointer; font: inherit; }
.pubcounts, .total { color: var(--muted); }
.filters { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
#filter { width: 36em; max-width: 90vw; padding: 4px 6px; font: inherit; }
.live { font-weight: 600; } .live.ok { color: #1a7f37; } .live.down { color: #cf222e; }
main { padding: 8px 16px 40px; display: flex; flex-wrap: wrap; gap: 12px 24px; align-items: flex-start; }
section.distro { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; }
section.distro h2 { font-size: 14px; margin: 0 0 4px; }
section.distro h2 small { color: var(--muted); font-weight: normal; }
table { border-collapse: collapse; }
th, td { padding: 1px 3px; text-align: left; white-space: nowrap; }
thead th { color: var(--muted); font-weight: 600; font-size: 12px; }
tbody th { font-weight: normal; padding-right: 8px; }
td.none { color: #bbb; text-align: center; }
td.manifests { border-left: 1px solid var(--line); padding-left: 6px; }
.cell { font: inherit; font-size: 12px; border: 1px solid transparent; border-radius: 4px; padding: 1px 6px; cursor: pointer; min-width: 7.5em; text-align: left; }
.cell.filtered { opacity: .15; }
.ntags { opacity: .8; }
.icon { display: inline-block; width: 1em; text-align: center; font-weight: 700; }
.s-not-built, .s-not-published { background: #f6f8fa; color: #57606a; border-color: #d0d7de; }
.s-would-build, .s-would-publish { background: #fbefff; color: #6e40c9; border-color: #c297ff; border-style: dashed; }
.s-queued { background: #fff8c5; color: #6b4f00; border-color: #d4a72c; }
.s-building, .s-publishing { background: #ddf4ff; color: #0550ae; border-color: #54aeff; }
.s-built { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.s-reused { background: #e6f6ea; color: #116329; border-color: #8ddb9e; border-style: dashed; }
.s-published { background: #1f883d; color: #fff; border-color: #1a7f37; }
.s-stale { background: #fff1e5; color: #953800; border-color: #fb8f44; border-style: dotted; }
.s-failed { background: #ffebe9; color: #a40e26; border-color: #ff8182; font-weight: 700; }
.badge { white-space: nowrap; }
#details .state { display: inline-block; padding: 1px 8px; border-radius: 4px; border: 1px solid var(--line); margin-bottom: 6px; }
#details { position: fixed; top: 0; right: 0; bottom: 0; width: min(640px, 100vw); overflow: auto; background: #fff; border-left: 2px solid var(--line);
  box-shadow: -4px 0 12px rgba(0,0,0,.12); padding: 12px 16px; z-index: 3; }
#details h3 { margin: 0 0 6px; word-break: break-all; }
#details dl div { display: flex; gap: 8px; } #details dt { color: var(--muted); min-width: 7em; } #details dd { margin: 0; word-break: break-all; }
#close { float: right; font: inherit; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 8px; overflow: auto; max-height: 50vh; white-space: pre; }
pre.log { background: #1b1f24; color: #f0f3f6; }
ul.tags code.digest { color: var(--muted); }
`;

export interface PageOptions {
  /** How often the served page asks for status.json. */
  readonly pollMs?: number;
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("base64");

/** The policy the page declares (and the server sends): nothing runs or loads but the page's own script and style. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src 'sha256-${sha256(CLIENT_SCRIPT)}'`,
  `style-src 'sha256-${sha256(STYLE)}'`,
  "connect-src 'self'",
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join("; ");

/** The page draws from the images alone: the flat tag and staging indexes repeat them for machines. */
const forPage = (status: StatusDocument): StatusDocument => ({ ...status, tags: [], staging: [] });

export function renderPage(status: StatusDocument, dockerfiles: ReadonlyMap<string, string>, options: PageOptions = {}): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(CONTENT_SECURITY_POLICY)}">
<title>OCaml base images: build status</title>
<style>${STYLE}</style>
</head>
<body data-poll-ms="${escapeHtml(String(options.pollMs ?? 1000))}">
<header>
<h1>OCaml base images: build status</h1>
<p id="meta"></p>
<div id="counts" role="group" aria-label="builds per state"></div>
<div class="filters">
<label>Filter <input id="filter" type="search" autocomplete="off" placeholder="distro:debian compiler:5.4 arch:arm64 state:failed"></label>
<span id="shown"></span>
<span id="live" class="live"></span>
</div>
</header>
<main id="matrix"><noscript>This page draws the matrix with JavaScript; status.json beside it holds the same data.</noscript></main>
<aside id="details" hidden aria-live="polite"><button id="close" type="button">close</button><div id="details-body"></div></aside>
<script type="application/json" id="status-data">${jsonForScript(forPage(status))}</script>
<script type="application/json" id="dockerfile-data">${jsonForScript(packDockerfiles(dockerfiles))}</script>
<script>${CLIENT_SCRIPT}</script>
</body>
</html>
`;
}
