// explore.js: step 4 of the page, "Use what it learned": the trained (or
// imported) network's representation of every photo put to work. Similar
// photos, a map, groups and labels named from a few, all computed in the
// workers by the Go module (wasm/app/explore.go over package explore, the
// code of pretext similar, map, cluster and classify), with exports of the
// embeddings, the predicted labels and the map.
import { call } from "./pretext.js";
import { byId, download, imageCanvas } from "./dom.js";
import { errorText, pct, plural } from "./format.js";
import { showMessage } from "./messages.js";
import { photoCount } from "./photos.js";
import { changed, onChange } from "./status.js";
import { currentModel, idle } from "./training.js";

// PALETTE colours groups and labels: explore.Palette, so the page's frames
// are the map PNG's.
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

const el = {
  start: byId("explore-start"), status: byId("explore-status"), tools: byId("explore-tools"),
  tabs: Array.from(document.querySelectorAll("#explore-tools [role=tab]")),
  grid: byId("similar-grid"), neighbours: byId("neighbours"), query: byId("similar-query"),
  map: byId("map"), mapMethod: byId("map-method"), mapHover: byId("map-hover"), mapColour: byId("map-colour"),
  zoomIn: byId("map-zoom-in"), zoomOut: byId("map-zoom-out"), zoomReset: byId("map-zoom-reset"),
  groupsK: byId("groups-k"), groupsRun: byId("groups-run"), groups: byId("groups"),
  labelGrid: byId("label-grid"), labelText: byId("label-text"), labelApply: byId("label-apply"), labelClear: byId("label-clear"),
  probe: byId("label-probe"), labelSummary: byId("label-summary"), predictions: byId("label-predictions"),
  exportCSV: byId("export-embeddings-csv"), exportNPY: byId("export-embeddings-npy"),
  exportLabels: byId("export-labels"), exportMap: byId("export-map"),
};

// The state of the step: the model state the photos were embedded for,
// the photos (id → {id, name, thumb canvas}), and what the person did.
let forModel = ""; // "task@step" of the embeddings shown; "" before any
let photos = new Map();
let busy = false;
const named = new Map(); // id → label the person gave
let selected = new Set(); // ids selected in the labelling view
let lastClicked = null; // for shift-click ranges
let labels = null; // the last Label answer
let groups = null; // the last Groups answer
let points = null; // the map's points: [{id, x, y}]
const view = { scale: 1, x: 0, y: 0 }; // the map's zoom and pan

const modelKey = () => {
  const m = currentModel();
  return m && m.step > 0 ? `${m.task}@${m.step}` : "";
};

// namedLabels is the labels the person gave photos, [{id, label}]: a
// training run measures its k-NN accuracy on them (training.js).
export function namedLabels() {
  return Array.from(named, ([id, label]) => ({ id, label }));
}

export function setUpExplore() {
  el.start.addEventListener("click", () => refresh());
  for (const tab of el.tabs) tab.addEventListener("click", () => showTab(tab));
  el.query.addEventListener("change", () => {
    if (el.query.files[0]) neighboursOfFile(el.query.files[0]);
    el.query.value = "";
  });
  el.mapMethod.addEventListener("change", () => drawMapFresh());
  el.mapColour.addEventListener("change", () => drawMap());
  el.zoomIn.addEventListener("click", () => zoom(1.5));
  el.zoomOut.addEventListener("click", () => zoom(1 / 1.5));
  el.zoomReset.addEventListener("click", () => { Object.assign(view, { scale: 1, x: 0, y: 0 }); drawMap(); });
  setUpMapPointer();
  el.groupsRun.addEventListener("click", () => showGroups());
  el.labelApply.addEventListener("click", () => nameSelected(el.labelText.value));
  el.labelText.addEventListener("keydown", (e) => { if (e.key === "Enter") nameSelected(el.labelText.value); });
  el.labelClear.addEventListener("click", () => { named.clear(); selected.clear(); labels = null; showLabelling(); });
  el.probe.addEventListener("change", () => predict());
  el.exportCSV.addEventListener("click", () => exportEmbeddings("csv"));
  el.exportNPY.addEventListener("click", () => exportEmbeddings("npy"));
  el.exportLabels.addEventListener("click", exportLabels);
  el.exportMap.addEventListener("click", exportMap);
  onChange(() => {
    const ok = idle() && modelKey() !== "" && photoCount() > 0;
    el.start.disabled = !ok || busy;
    const fresh = ok && forModel === modelKey() && photos.size === photoCount();
    el.tools.hidden = forModel === "";
    for (const b of [el.exportCSV, el.exportNPY, el.exportMap, el.groupsRun, el.labelApply, el.query]) b.disabled = !fresh || busy;
    el.exportLabels.disabled = !fresh || busy || !labels;
    if (forModel && !fresh && !busy) say(ok ? "The model or the photos changed: press Look at the photos again to bring it up to date (only new photos are embedded again, unless the model changed)." : "Training, or no model: this step waits for a trained model.");
  });
}

function say(text, isError) {
  el.status.textContent = text;
  el.status.dataset.state = isError ? "error" : "";
}

// work runs one call to the workers with the step marked busy.
async function work(what, fn) {
  busy = true;
  changed();
  try {
    return await fn();
  } catch (err) {
    say(`${what} failed: ${errorText(err)}`, true);
    showMessage(`${what} failed: ${errorText(err)}`);
    return null;
  } finally {
    busy = false;
    changed(); // every control follows
  }
}

// refresh embeds the photos not yet embedded for the current model and
// redraws every tool.
export async function refresh() {
  say("Embedding the photos…");
  const t0 = performance.now();
  const info = await work("Embedding the photos", () => call("explore"));
  if (!info) return;
  const seconds = (performance.now() - t0) / 1000;
  const key = modelKey();
  if (key !== forModel) {
    points = groups = labels = null;
  }
  forModel = key;
  const ids = new Set(info.photos.map((p) => p.id));
  for (const id of photos.keys()) if (!ids.has(id)) photos.delete(id);
  for (const id of Array.from(named.keys())) if (!ids.has(id)) named.delete(id);
  for (const p of info.photos) {
    if (!photos.has(p.id)) photos.set(p.id, { id: p.id, name: p.name, thumb: imageCanvas(p.thumb, p.name) });
  }
  points = null; // photos may have been added: the map is laid out again
  say(`${plural(photos.size, "photo")} embedded (${info.dim} values each, block ${info.block} pooled ${info.grid}×${info.grid}) in ${seconds.toFixed(1)} s.`);
  el.tools.hidden = false;
  el.tools.dataset.embedSeconds = seconds.toFixed(3);
  showSimilar();
  showLabelling();
  const tab = el.tabs.find((t) => t.getAttribute("aria-selected") === "true") || el.tabs[0];
  showTab(tab);
  changed();
}

function showTab(tab) {
  for (const t of el.tabs) {
    const on = t === tab;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    byId(t.getAttribute("aria-controls")).hidden = !on;
  }
  if (tab.id === "tab-map" && !points) drawMapFresh();
  if (tab.id === "tab-map") drawMap();
  if (tab.id === "tab-groups" && !groups) showGroups();
}

// thumb returns a new figure showing photo id's thumbnail and a caption.
function thumb(id, caption, colour) {
  const p = photos.get(id);
  const fig = document.createElement("figure");
  fig.className = "explore-photo";
  fig.dataset.id = String(id);
  const c = document.createElement("canvas");
  c.width = p.thumb.width;
  c.height = p.thumb.height;
  c.getContext("2d").drawImage(p.thumb, 0, 0);
  c.setAttribute("role", "img");
  c.setAttribute("aria-label", p.name);
  c.title = p.name;
  if (colour) c.style.outline = `3px solid ${colour}`;
  fig.append(c);
  if (caption) {
    const cap = document.createElement("figcaption");
    cap.textContent = caption;
    fig.append(cap);
  }
  return fig;
}

// Similar photos: every photo, to click for its neighbours.
function showSimilar() {
  el.grid.replaceChildren(...Array.from(photos.keys(), (id) => {
    const f = thumb(id);
    f.tabIndex = 0;
    f.setAttribute("role", "button");
    f.setAttribute("aria-label", `Photos like ${photos.get(id).name}`);
    f.addEventListener("click", () => neighboursOf(id));
    f.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); neighboursOf(id); } });
    return f;
  }));
}

function showNeighbours(title, list) {
  const h = document.createElement("p");
  h.textContent = title;
  el.neighbours.replaceChildren(h, ...list.map((n) => thumb(n.id, n.similarity.toFixed(3))));
}

async function neighboursOf(id) {
  const list = await work("Finding similar photos", () => call("neighbours", id, 8));
  if (list) showNeighbours(`Most like ${photos.get(id).name} (cosine similarity):`, list);
}

async function neighboursOfFile(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const list = await work("Finding similar photos", () => call("neighbours", { name: file.name, bytes }, 8));
  if (list) showNeighbours(`Most like ${file.name}, from outside the set (cosine similarity):`, list);
}

// The map: thumbnails at their t-SNE (or PCA) places; wheel or buttons to
// zoom, drag to pan, hover for a larger view and the name.
async function drawMapFresh() {
  say("Laying out the map…");
  const t0 = performance.now();
  const method = el.mapMethod.value;
  const pts = await work("Laying out the map", () => call("map", { method, seed: 1 }));
  if (!pts) return;
  points = pts;
  const seconds = ((performance.now() - t0) / 1000).toFixed(3);
  say(`Map of ${plural(pts.length, "photo")} by ${method === "pca" ? "PCA" : "t-SNE"} in ${seconds} s.`);
  Object.assign(view, { scale: 1, x: 0, y: 0 });
  if (el.mapColour.value === "group" && !groups) await showGroups();
  drawMap();
  el.map.dataset.seconds = seconds; // drawn (the browser test waits for it)
}

// colourOf is the frame colour of photo id on the map: its group or label.
function colourOf(id) {
  if (el.mapColour.value === "group" && groups) {
    const g = groups.groups.findIndex((m) => m.includes(id));
    return g >= 0 ? PALETTE[g % PALETTE.length] : null;
  }
  if (el.mapColour.value === "label" && labels) {
    const p = labels.photos.find((q) => q.id === id);
    return p ? PALETTE[labels.classes.indexOf(p.label) % PALETTE.length] : null;
  }
  return null;
}

// mapGeometry maps a point in [0,1]² to canvas pixels under the zoom.
function mapGeometry() {
  const c = el.map;
  const size = c.width;
  // Thumbnails shrink as photos add up: 1/8 of the map for a few, 24
  // pixels (before zooming) for a thousand.
  const base = Math.min(size / 8, Math.max(24, size / (1.6 * Math.sqrt(points ? points.length : 1))));
  const t = Math.round(base * Math.sqrt(view.scale));
  const pad = t / 2 + 2;
  return { size, t, at: (p) => [pad + (p.x * (size - 2 * pad) - view.x) * view.scale, pad + (p.y * (size - 2 * pad) - view.y) * view.scale] };
}

function drawMap() {
  const c = el.map;
  const ctx = c.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, c.width, c.height);
  if (!points) return;
  const g = mapGeometry();
  for (const p of points) {
    const photo = photos.get(p.id);
    if (!photo) continue;
    const [x, y] = g.at(p);
    if (x < -g.t || y < -g.t || x > c.width + g.t || y > c.height + g.t) continue;
    const colour = colourOf(p.id);
    if (colour) {
      ctx.fillStyle = colour;
      ctx.fillRect(x - g.t / 2 - 2, y - g.t / 2 - 2, g.t + 4, g.t + 4);
    }
    const w = photo.thumb.width, h = photo.thumb.height, s = Math.min(w, h);
    ctx.drawImage(photo.thumb, (w - s) / 2, (h - s) / 2, s, s, x - g.t / 2, y - g.t / 2, g.t, g.t);
  }
}

function zoom(factor, cx = el.map.width / 2, cy = el.map.height / 2) {
  const g = mapGeometry();
  const pad = g.t / 2 + 2;
  // Keep the point under (cx, cy) in place.
  const ux = (cx - pad) / view.scale + view.x, uy = (cy - pad) / view.scale + view.y;
  view.scale = Math.min(20, Math.max(1, view.scale * factor));
  view.x = ux - (cx - pad) / view.scale;
  view.y = uy - (cy - pad) / view.scale;
  if (view.scale === 1) view.x = view.y = 0;
  drawMap();
}

function setUpMapPointer() {
  const c = el.map;
  const toCanvas = (e) => {
    const r = c.getBoundingClientRect();
    return [(e.clientX - r.left) * (c.width / r.width), (e.clientY - r.top) * (c.height / r.height)];
  };
  let drag = null;
  c.addEventListener("wheel", (e) => {
    if (!points) return;
    e.preventDefault();
    const [x, y] = toCanvas(e);
    zoom(e.deltaY < 0 ? 1.25 : 0.8, x, y);
  }, { passive: false });
  c.addEventListener("pointerdown", (e) => { drag = toCanvas(e); c.setPointerCapture(e.pointerId); });
  c.addEventListener("pointerup", () => { drag = null; });
  c.addEventListener("pointermove", (e) => {
    const [x, y] = toCanvas(e);
    if (drag) {
      view.x -= (x - drag[0]) / view.scale;
      view.y -= (y - drag[1]) / view.scale;
      drag = [x, y];
      drawMap();
      return;
    }
    hover(x, y, e);
  });
  c.addEventListener("pointerleave", () => { el.mapHover.hidden = true; });
}

// hover shows the photo under the pointer larger, with its name.
function hover(x, y, e) {
  if (!points) return;
  const g = mapGeometry();
  let best = null;
  for (const p of points) {
    const [px, py] = g.at(p);
    if (Math.abs(px - x) <= g.t / 2 && Math.abs(py - y) <= g.t / 2) best = p; // the topmost
  }
  if (!best) {
    el.mapHover.hidden = true;
    return;
  }
  const photo = photos.get(best.id);
  const big = document.createElement("canvas");
  big.width = photo.thumb.width * 2;
  big.height = photo.thumb.height * 2;
  big.getContext("2d").drawImage(photo.thumb, 0, 0, big.width, big.height);
  const cap = document.createElement("p");
  cap.textContent = photo.name;
  el.mapHover.replaceChildren(big, cap);
  el.mapHover.dataset.id = String(best.id);
  el.mapHover.hidden = false;
  const r = el.map.getBoundingClientRect();
  el.mapHover.style.left = `${e.clientX - r.left + 12}px`;
  el.mapHover.style.top = `${e.clientY - r.top + 12}px`;
}

// Groups: galleries by k-means, k chosen automatically (0) or set.
async function showGroups() {
  const k = Math.max(0, Math.floor(Number(el.groupsK.value) || 0));
  const g = await work("Grouping the photos", () => call("groups", { k, seed: 1 }));
  if (!g) return;
  groups = g;
  el.groups.replaceChildren(...g.groups.map((members, i) => {
    const sec = document.createElement("section");
    sec.className = "gallery";
    const h = document.createElement("h3");
    h.textContent = `Group ${i + 1}: ${plural(members.length, "photo")}`;
    h.style.borderColor = PALETTE[i % PALETTE.length];
    sec.append(h, ...members.map((id) => thumb(id, "", PALETTE[i % PALETTE.length])));
    return sec;
  }));
  const note = document.createElement("p");
  note.className = "note";
  note.textContent = `${plural(g.k, "group")}${k ? "" : " (chosen automatically)"}, silhouette ${g.silhouette.toFixed(3)}: the most typical photos of each group come first.`;
  el.groups.prepend(note);
  if (points) drawMap();
}

// Labels: the person selects photos and names them; every other photo
// gets a predicted label and a confidence.
function showLabelling() {
  el.labelGrid.replaceChildren(...Array.from(photos.keys(), (id) => {
    const label = named.get(id);
    const f = thumb(id, label || "", label && labels ? PALETTE[labels.classes.indexOf(label) % PALETTE.length] : null);
    f.tabIndex = 0;
    f.setAttribute("role", "checkbox");
    f.setAttribute("aria-checked", String(selected.has(id)));
    if (label) f.classList.add("named");
    f.addEventListener("click", (e) => select(id, e.shiftKey));
    f.addEventListener("keydown", (e) => { if (e.key === " ") { e.preventDefault(); select(id, e.shiftKey); } });
    return f;
  }));
  showPredictions();
}

function select(id, range) {
  const order = Array.from(photos.keys());
  if (range && lastClicked !== null) {
    const [a, b] = [order.indexOf(lastClicked), order.indexOf(id)].sort((x, y) => x - y);
    for (const i of order.slice(a, b + 1)) selected.add(i);
  } else if (selected.has(id)) selected.delete(id);
  else selected.add(id);
  lastClicked = id;
  for (const f of el.labelGrid.children) f.setAttribute("aria-checked", String(selected.has(Number(f.dataset.id))));
}

async function nameSelected(text) {
  const label = text.trim();
  if (!label || selected.size === 0) {
    say("Select photos (click; shift-click for a range), type a label, then press Name.", true);
    return;
  }
  for (const id of selected) named.set(id, label);
  selected = new Set();
  el.labelText.value = "";
  await predict();
}

// predict asks for every photo's label from the named ones.
async function predict() {
  const classes = new Set(named.values());
  if (classes.size < 2) {
    labels = null;
    showLabelling();
    say(named.size ? `Named ${plural(named.size, "photo")}: name photos with at least two different labels to see predictions.` : "", false);
    return;
  }
  const names = Array.from(named, ([id, label]) => ({ id, label }));
  const t0 = performance.now();
  const l = await work("Predicting the labels", () => call("label", names, el.probe.value));
  if (!l) return;
  labels = l;
  el.predictions.dataset.seconds = ((performance.now() - t0) / 1000).toFixed(3);
  showLabelling();
  if (points && el.mapColour.value === "label") drawMap();
}

function showPredictions() {
  if (!labels) {
    el.labelSummary.textContent = named.size ? `${plural(named.size, "photo")} named.` : "No photo named yet.";
    el.predictions.replaceChildren();
    el.exportLabels.disabled = true;
    return;
  }
  el.labelSummary.textContent = `${plural(named.size, "photo")} named with ${plural(labels.classes.length, "label")}. ` +
    `Leave-one-out accuracy on them: ${pct(labels.leaveOneOut)} with this network, ${pct(labels.randomLeaveOneOut)} with an untrained (random) network of the same shape.`;
  el.labelSummary.dataset.loo = String(labels.leaveOneOut);
  el.labelSummary.dataset.randomLoo = String(labels.randomLeaveOneOut);
  el.predictions.replaceChildren(...labels.classes.map((cls, ci) => {
    const sec = document.createElement("section");
    sec.className = "gallery";
    const members = labels.photos.filter((p) => !p.named && p.label === cls).sort((a, b) => a.confidence - b.confidence);
    const h = document.createElement("h3");
    h.textContent = `${cls}: ${plural(members.length, "photo")} predicted (least sure first)`;
    h.style.borderColor = PALETTE[ci % PALETTE.length];
    sec.append(h, ...members.map((p) => {
      const f = thumb(p.id, pct(p.confidence), PALETTE[ci % PALETTE.length]);
      f.classList.add("prediction-photo");
      f.dataset.label = cls;
      f.dataset.confidence = String(p.confidence);
      const accept = document.createElement("button");
      accept.type = "button";
      accept.textContent = "✓";
      accept.title = accept.ariaLabel = `Accept: ${photos.get(p.id).name} is ${cls}`;
      accept.addEventListener("click", () => { named.set(p.id, cls); predict(); });
      const correct = document.createElement("button");
      correct.type = "button";
      correct.textContent = "✎";
      correct.title = correct.ariaLabel = `Correct the label of ${photos.get(p.id).name}`;
      correct.addEventListener("click", () => {
        selected = new Set([p.id]);
        for (const g of el.labelGrid.children) g.setAttribute("aria-checked", String(selected.has(Number(g.dataset.id))));
        el.labelText.focus();
        say(`Type the right label for ${photos.get(p.id).name} and press Name.`);
      });
      f.append(accept, correct);
      return f;
    }));
    return sec;
  }));
  el.exportLabels.disabled = busy;
}

// Exports: files made by the module, as the command writes them.
async function exportEmbeddings(format) {
  const e = await work("Exporting the embeddings", () => call("exportEmbeddings", format));
  if (!e) return;
  download(e.data, `pretext-embeddings.${format}`, format === "csv" ? "text/csv" : "application/octet-stream");
  if (format === "npy") download(new TextEncoder().encode(e.names), "pretext-embeddings.npy.txt", "text/plain");
}

async function exportLabels() {
  const names = Array.from(named, ([id, label]) => ({ id, label }));
  const b = await work("Exporting the labels", () => call("exportPredictions", names, el.probe.value));
  if (b) download(b, "pretext-labels.csv", "text/csv");
}

async function exportMap() {
  const b = await work("Drawing the map", () => call("mapPNG", { method: el.mapMethod.value, seed: 1, size: 1600 }));
  if (b) download(b, `pretext-map-${el.mapMethod.value}.png`, "image/png");
}
