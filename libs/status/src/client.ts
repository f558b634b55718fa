/**
 * The page's script, as text: it draws the matrix from the embedded status,
 * filters it, shows a build's details and, when the page is served over HTTP,
 * polls status.json and redraws what changed. It builds every node with
 * createElement and textContent, never innerHTML, so no name from images/ or
 * a record can become markup. Plain ES2020 for any current browser; no
 * template literals, so this file can hold it in one.
 */
export const CLIENT_SCRIPT = String.raw`(function () {
"use strict";
var ICONS = {
  "not-built": "\u25CB", "would-build": "\u25CC", "would-publish": "\u25CC", "queued": "\u22EF", "building": "\u27F3", "built": "\u2713", "reused": "\u21BA",
  "published": "\u2605", "stale": "!", "failed": "\u2717",
  "not-published": "\u25CB", "publishing": "\u27F3"
};
var LABELS = {
  "not-built": "not built", "would-build": "would build", "would-publish": "would publish", "queued": "queued", "building": "building", "built": "built", "reused": "reused",
  "published": "published", "stale": "stale", "failed": "failed", "not-published": "not published", "publishing": "publishing"
};
var POLL_MS = Number(document.body.getAttribute("data-poll-ms")) || 1000;
var status = JSON.parse(document.getElementById("status-data").textContent);
var dockerfilePacked = JSON.parse(document.getElementById("dockerfile-data").textContent);
var dockerfiles = null;
var selected = null;
var byKey = new Map();
var matrix = document.getElementById("matrix");
var filterBox = document.getElementById("filter");
var details = document.getElementById("details");

function el(tag, attrs) {
  var node = document.createElement(tag);
  if (attrs) for (var k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, String(attrs[k]));
  for (var i = 2; i < arguments.length; i++) {
    var c = arguments[i];
    if (c === null || c === undefined || c === false) continue;
    node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return node;
}

function stateBadge(state) {
  return el("span", { "class": "badge", "data-state": state }, el("span", { "class": "icon", "aria-hidden": "true" }, ICONS[state] || "?"), " ", LABELS[state] || state);
}

function indexStatus() {
  byKey = new Map();
  for (var i = 0; i < status.images.length; i++) {
    var image = status.images[i];
    for (var j = 0; j < image.builds.length; j++) byKey.set(image.name + "/" + image.builds[j].arch, { image: image, build: image.builds[j] });
    byKey.set(image.name + "/manifests", { image: image, build: null });
  }
}

function imageLabel(image) {
  if (image.kind === "opam") return "opam";
  if (image.kind === "archive") return "archive";
  if (image.kind === "deprecated") return "deprecation image";
  return "OCaml " + (image.compiler || image.name);
}

function drawCounts() {
  var box = document.getElementById("counts");
  box.textContent = "";
  var builds = status.counts.builds;
  var total = 0;
  for (var s in builds) total += builds[s];
  box.appendChild(el("span", { "class": "total" }, total + " builds:"));
  for (var state in builds) {
    var b = el("button", { type: "button", "class": "count s-" + state, "data-state": state, title: "show only " + LABELS[state] },
      el("span", { "class": "icon", "aria-hidden": "true" }, ICONS[state]), " " + LABELS[state] + " ", el("strong", null, String(builds[state])));
    box.appendChild(b);
  }
  var pubs = status.counts.publishes;
  var parts = [];
  for (var p in pubs) if (pubs[p] > 0) parts.push(LABELS[p] + " " + pubs[p]);
  box.appendChild(el("span", { "class": "pubcounts" }, "images: " + parts.join(", ")));
  document.getElementById("meta").textContent = "staging " + status.repositories.staging + " \u00B7 public " + status.repositories.public + " \u00B7 as of " + status.generatedAt;
}

function buildCell(im, build) {
  var state = build.status.state;
  return el("button", { type: "button", "class": "cell s-" + state, "data-key": im.name + "/" + build.arch,
    "data-arch": build.arch, "data-state": state, title: im.name + " (" + build.arch + "): " + LABELS[state] }, stateBadge(state));
}

function publishCell(im) {
  var state = im.publish.status.state;
  return el("button", { type: "button", "class": "cell pub s-" + state, "data-key": im.name + "/manifests",
    "data-arch": "manifests", "data-state": state, title: im.name + " manifests: " + LABELS[state] },
    stateBadge(state), el("span", { "class": "ntags" }, " \u00B7 " + im.publish.tags.length + (im.publish.tags.length === 1 ? " tag" : " tags")));
}

/** What the matrix's shape depends on: the groups, images and arches, not their states. */
function shapeOf(s) {
  return JSON.stringify([s.distros, s.images.map(function (im) { return [im.name, im.distro, im.kind, im.compiler, im.builds.map(function (b) { return b.arch; }), im.publish.tags.length]; })]);
}

/** Each cell's part of the status, by key, to tell which changed. */
function cellsOf(s) {
  var cells = new Map();
  s.images.forEach(function (im) {
    im.builds.forEach(function (b) { cells.set(im.name + "/" + b.arch, JSON.stringify(b)); });
    cells.set(im.name + "/manifests", JSON.stringify(im.publish));
  });
  return cells;
}

function drawMatrix() {
  var frag = document.createDocumentFragment();
  var byDistro = new Map();
  for (var i = 0; i < status.images.length; i++) {
    var image = status.images[i];
    if (!byDistro.has(image.distro)) byDistro.set(image.distro, []);
    byDistro.get(image.distro).push(image);
  }
  for (var d = 0; d < status.distros.length; d++) {
    var distro = status.distros[d];
    var images = byDistro.get(distro.name) || [];
    var arches = [];
    images.forEach(function (im) { im.builds.forEach(function (b) { if (arches.indexOf(b.arch) < 0) arches.push(b.arch); }); });
    var head = el("tr", null, el("th", { scope: "col" }, "image"));
    arches.forEach(function (a) { head.appendChild(el("th", { scope: "col" }, a)); });
    head.appendChild(el("th", { scope: "col" }, "manifests"));
    var body = el("tbody");
    images.forEach(function (im) {
      var row = el("tr", { "data-image": im.name, "data-distro": distro.name, "data-compiler": im.compiler || "", "data-kind": im.kind },
        el("th", { scope: "row", title: im.name }, imageLabel(im)));
      arches.forEach(function (a) {
        var build = null;
        for (var k = 0; k < im.builds.length; k++) if (im.builds[k].arch === a) build = im.builds[k];
        if (!build) { row.appendChild(el("td", { "class": "none" }, el("span", { "aria-label": "not planned" }, "\u2014"))); return; }
        row.appendChild(el("td", null, buildCell(im, build)));
      });
      row.appendChild(el("td", { "class": "manifests" }, publishCell(im)));
      body.appendChild(row);
    });
    frag.appendChild(el("section", { "class": "distro", "data-distro": distro.name, "data-title": distro.title },
      el("h2", null, distro.title, " ", el("small", null, distro.name)),
      el("table", null, el("thead", null, head), body)));
  }
  matrix.textContent = "";
  matrix.appendChild(frag);
}

function parseFilter(text) {
  return text.trim().toLowerCase().split(/\s+/).filter(Boolean).map(function (t) {
    var m = /^(distro|compiler|arch|state|image):(.*)$/.exec(t);
    return m ? { key: m[1], value: m[2] } : { key: null, value: t };
  });
}

function applyFilter() {
  var tokens = parseFilter(filterBox.value);
  var shown = 0, total = 0;
  matrix.querySelectorAll("section.distro").forEach(function (section) {
    var distroText = (section.getAttribute("data-distro") + " " + section.getAttribute("data-title")).toLowerCase();
    var anyRow = false;
    section.querySelectorAll("tbody tr").forEach(function (row) {
      var anyCell = false;
      row.querySelectorAll("button.cell").forEach(function (cell) {
        var arch = cell.getAttribute("data-arch");
        var state = cell.getAttribute("data-state");
        var fields = { distro: distroText, compiler: row.getAttribute("data-compiler").toLowerCase(), arch: arch, state: state + " " + LABELS[state],
          image: row.getAttribute("data-image").toLowerCase() };
        var all = fields.distro + " " + fields.compiler + " " + arch + " " + fields.state + " " + fields.image;
        var ok = tokens.every(function (t) {
          if (t.key === "state") return state === t.value || LABELS[state] === t.value.replace(/-/g, " ");
          if (t.key === "arch") return arch === t.value;
          return (t.key ? fields[t.key] : all).indexOf(t.value) >= 0;
        });
        if (arch !== "manifests") { total++; if (ok) shown++; }
        cell.classList.toggle("filtered", !ok);
        if (ok) anyCell = true;
      });
      row.hidden = !anyCell;
      if (anyCell) anyRow = true;
    });
    section.hidden = !anyRow;
  });
  document.getElementById("shown").textContent = shown + " of " + total + " builds shown";
}

function dl(pairs) {
  var list = el("dl");
  pairs.forEach(function (p) { if (p[1] !== null && p[1] !== undefined && p[1] !== "") list.appendChild(el("div", null, el("dt", null, p[0]), el("dd", null, el("code", null, String(p[1]))))); });
  return list;
}

function loadDockerfiles() {
  if (dockerfiles) return dockerfiles;
  var bytes = Uint8Array.from(atob(dockerfilePacked.gzip), function (c) { return c.charCodeAt(0); });
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  dockerfiles = new Response(stream).text().then(JSON.parse);
  return dockerfiles;
}

function failureBlock(failure, rerun) {
  return el("div", { "class": "failure" },
    el("h4", null, "Failure"), el("p", { "class": "message" }, failure.message),
    el("p", null, "started " + failure.startedAt + ", failed " + failure.failedAt),
    el("h4", null, "Last lines"), el("pre", { "class": "log" }, failure.logTail.join("\n")),
    el("h4", null, "Run it again"), el("pre", { "class": "rerun" }, rerun));
}

function infoPairs(info) {
  return [["staging tag", info.stagingTag], ["digest", info.digest || "(dry run)"], ["build id", info.buildId], ["built", info.builtAt + (info.reused ? " (reused from the registry)" : "")]];
}

function showDetails(key) {
  var entry = byKey.get(key);
  if (!entry) { details.hidden = true; selected = null; return; }
  // Drawn again for the same build (its status moved): the reader's opened or closed Dockerfile stays so.
  var shown = key === selected ? document.querySelector("#details-body details") : null;
  var keepOpen = shown ? shown.open : true;
  selected = key;
  var image = entry.image, build = entry.build;
  var box = document.getElementById("details-body");
  box.textContent = "";
  if (build) {
    var s = build.status;
    box.appendChild(el("h3", null, image.name + " (" + build.arch + ")"));
    box.appendChild(el("div", { "class": "state s-" + s.state }, stateBadge(s.state)));
    var pairs = [["platform", build.platform], ["staging tag", build.stagingTag]];
    var info = s.build || s.previous || null;
    if (info) pairs = pairs.concat(infoPairs(info).slice(1));
    if (s.since) pairs.push([s.state + " since", s.since]);
    if (s.state === "would-build") pairs.push(["build id", s.buildId], ["dry run at", s.plannedAt + " (nothing was built)"]);
    if (s.reason) pairs.push(["why", s.reason]);
    if (s.note) pairs.push(["note", s.note]);
    box.appendChild(dl(pairs));
    if (s.tags && s.tags.length) box.appendChild(el("div", null, el("h4", null, "Published as"), el("ul", null, s.tags.map(function (t) { return el("li", null, el("code", null, t)); }))));
    if (s.state === "failed") box.appendChild(failureBlock(s.failure, build.rerun));
    else box.appendChild(el("p", null, "Run it: ", el("code", { "class": "rerun" }, build.rerun)));
    var pre = el("pre", { "class": "dockerfile" }, "loading\u2026");
    box.appendChild(el("details", { open: keepOpen ? "" : null }, el("summary", null, "Dockerfile"), pre));
    loadDockerfiles().then(function (d) {
      var i = d.index[image.name + "/" + build.arch];
      pre.textContent = i === undefined ? "(not in the plan)" : d.texts[i];
    }, function (e) { pre.textContent = "cannot unpack the Dockerfiles: " + e; });
  } else {
    var p = image.publish.status;
    box.appendChild(el("h3", null, image.name + " manifests"));
    box.appendChild(el("div", { "class": "state s-" + p.state }, stateBadge(p.state)));
    var rows = [];
    if (p.publishedAt) rows.push(["published", p.publishedAt]);
    if (p.since) rows.push([p.state + " since", p.since]);
    if (p.plannedAt) rows.push(["dry run at", p.plannedAt + " (nothing was pushed)"]);
    if (p.reason) rows.push(["why", p.reason]);
    if (p.note) rows.push(["note", p.note]);
    box.appendChild(dl(rows));
    // A dry run's tags are names only; published ones carry their digests.
    var tags = p.state === "would-publish" ? [] : (p.tags || []);
    var list = el("ul", { "class": "tags" });
    if (tags.length) tags.forEach(function (t) {
      list.appendChild(el("li", null, el("code", null, t.tag), " ", el("code", { "class": "digest" }, t.digest || "(digest not recorded)"),
        el("ul", null, t.arches.map(function (a) { return el("li", null, (a.arch || "?") + " ", el("code", null, a.digest)); }))));
    });
    else image.publish.tags.forEach(function (t) { list.appendChild(el("li", null, el("code", null, t))); });
    box.appendChild(el("h4", null, tags.length ? "Tags" : "Tags it will publish"));
    box.appendChild(list);
    if (p.state === "failed") box.appendChild(failureBlock(p.failure, image.publish.rerun));
    else box.appendChild(el("p", null, "Run it: ", el("code", { "class": "rerun" }, image.publish.rerun)));
  }
  details.hidden = false;
}

function redraw() {
  indexStatus();
  drawCounts();
  drawMatrix();
  applyFilter();
  if (selected) showDetails(selected);
}

/**
 * A new status from the server: only what changed is drawn again (the counts,
 * the cells whose state moved, the details when theirs did), so what the reader
 * opened, selected or scrolled stays as it was. A new shape (images or arches
 * came or went) draws the matrix anew.
 */
function update(next) {
  var before = status;
  status = next;
  indexStatus();
  drawCounts();
  if (shapeOf(before) !== shapeOf(next)) {
    drawMatrix();
    applyFilter();
    if (selected) showDetails(selected);
    return;
  }
  var was = cellsOf(before), now = cellsOf(next);
  var moved = false;
  matrix.querySelectorAll("button.cell").forEach(function (cell) {
    var key = cell.getAttribute("data-key");
    if (was.get(key) === now.get(key)) return;
    var entry = byKey.get(key);
    cell.replaceWith(entry.build ? buildCell(entry.image, entry.build) : publishCell(entry.image));
    moved = true;
  });
  if (moved) applyFilter();
  if (selected && was.get(selected) !== now.get(selected)) showDetails(selected);
}

matrix.addEventListener("click", function (e) {
  var cell = e.target.closest("button.cell");
  if (cell) showDetails(cell.getAttribute("data-key"));
});
document.getElementById("counts").addEventListener("click", function (e) {
  var b = e.target.closest("button.count");
  if (!b) return;
  var rest = filterBox.value.replace(/(^|\s)state:\S*/g, " ").trim();
  filterBox.value = (rest ? rest + " " : "") + "state:" + b.getAttribute("data-state");
  applyFilter();
});
document.getElementById("close").addEventListener("click", function () { details.hidden = true; selected = null; });
filterBox.addEventListener("input", applyFilter);
redraw();

if (location.protocol === "http:" || location.protocol === "https:") {
  var live = document.getElementById("live");
  // What the page draws, without generatedAt (new in every answer) and the flat indexes it does not draw.
  var drawn = function (s) { return JSON.stringify([s.repositories, s.counts, s.distros, s.images]); };
  var last = drawn(status);
  var poll = function () {
    fetch("status.json", { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (next) {
      var key = drawn(next);
      if (key !== last) {
        last = key;
        update(next);
      }
      live.textContent = "live \u00B7 checked " + new Date().toLocaleTimeString();
      live.className = "live ok";
    }).catch(function (e) {
      live.textContent = "live \u00B7 cannot reach the server (" + e.message + "); retrying";
      live.className = "live down";
    }).then(function () { setTimeout(poll, POLL_MS); });
  };
  poll();
}
})();
`;
