// worker.js: the module worker that runs Pretext's Go module, so that
// training never blocks the page (team.js starts it with {type: "module"}).
// Protocol: docs/browser.md. Every call's result is posted back with its
// id; image pixels and model bytes are transferred, not copied.
//
// Two globals cross into Go and back, as syscall/js requires: wasm_exec.js
// (Go's own classic script, copied from $(go env GOROOT)/lib/wasm by
// ./build.sh) defines globalThis.Go, and the Go module, once running,
// installs its API as globalThis.pretext.
import "./wasm_exec.js"; // for its side effect: globalThis.Go
import * as group from "./group.js";
import { loadGemm } from "./simd.js"; // the simd128 matrix kernel

let memory = null; // the Go module's memory, for the group's exchanges
let running = null; // the group object of the running train or bench call

// transferables lists the ArrayBuffers inside a result, so postMessage moves
// them instead of copying (thumbnails and previews add up quickly).
function transferables(value, out = [], seen = new Set()) {
  if (value === null || typeof value !== "object" || seen.has(value)) return out;
  seen.add(value);
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && !seen.has(value.buffer)) {
      seen.add(value.buffer);
      out.push(value.buffer);
    }
    return out;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) transferables(v, out, seen);
  return out;
}

function post(message) {
  self.postMessage(message, transferables(message));
}

// DEFAULT_MAX_MIB is the app's default memory limit for photos (wasm/app
// limits.go: core.DefaultMaxBytes), used when the page sends none.
const DEFAULT_MAX_MIB = 512;

// addFiles reads File objects (from the picker or a drop) into bytes here,
// off the page's thread, and hands them to Go.
async function addFiles(files, limits) {
  const items = [];
  const unreadable = [];
  // A file larger than the whole memory allowed for photos cannot fit once
  // decoded: refuse it before reading it into the worker at all.
  const maxMiB = (limits && limits.maxMegabytes) || DEFAULT_MAX_MIB;
  for (const f of files) {
    try {
      // A File, or {name, blob}: a photo the page kept across a reload.
      const blob = f.blob || f;
      const name = f.blob ? f.name : f.webkitRelativePath || f.name;
      if (blob.size > maxMiB * 1048576) {
        unreadable.push({ name, reason: `the file is ${Math.round(blob.size / 1048576)} MB, more than the ${maxMiB} MB allowed for all photos` });
        continue;
      }
      items.push({ name, bytes: new Uint8Array(await blob.arrayBuffer()) });
    } catch (err) {
      unreadable.push({ name: f.name, reason: "could not be read: " + (err && err.message ? err.message : err) });
    }
  }
  const res = await self.pretext.addImages(items, limits);
  res.rejected = unreadable.concat(res.rejected);
  return res;
}

// inGroup runs a train or bench call as one worker of setup ({rank, size,
// sab}; null or size 1: alone). If this worker fails, the others are told
// at once rather than left waiting for it.
async function inGroup(setup, run) {
  running = null;
  if (setup && setup.size > 1) {
    running = setup.sab ? group.shared(setup, memory) : group.messages(setup, memory, post);
  }
  const g = running;
  try {
    const res = await run(g || undefined);
    // How long this worker spent exchanging values (and waiting for the
    // others inside the exchanges).
    if (g && res && typeof res === "object") res.exchange = { rank: g.rank, ...g.stats };
    return res;
  } catch (err) {
    if (g) g.abort(err && err.message ? err.message : String(err));
    throw err;
  } finally {
    if (running === g) running = null;
  }
}

async function call(method, args) {
  const api = self.pretext;
  switch (method) {
    case "addFiles":
      return addFiles(args[0] || [], args[1]);
    case "version":
      return api.version;
    case "train": {
      // Only rank 0 reports progress: the workers take the same steps.
      const lead = !args[1] || args[1].rank === 0;
      const progress = lead ? (data) => post({ event: "progress", data }) : undefined;
      return inGroup(args[1], (g) => api.train(args[0] || {}, progress, g));
    }
    case "bench":
      return inGroup(args[1], (g) => api.bench(args[0] || {}, g));
    default:
      if (typeof api[method] !== "function") throw new Error("unknown method " + method);
      return api[method](...args);
  }
}

const pending = [];
let ready = false;

self.onmessage = (e) => {
  if (e.data && e.data.event === "reduced") {
    // The hub's sums for this worker's group (no shared memory).
    if (running) running.deliver(e.data);
    return;
  }
  if (!ready) {
    pending.push(e.data);
    return;
  }
  handle(e.data);
};

async function handle({ id, method, args }) {
  try {
    post({ id, result: await call(method, args || []) });
  } catch (err) {
    post({ id, error: err && err.message ? err.message : String(err) });
  }
}

async function start() {
  const go = new self.Go();
  let result;
  try {
    result = await WebAssembly.instantiateStreaming(fetch("pretext.wasm"), go.importObject);
    memory = result.instance.exports.mem;
  } catch (err) {
    post({ event: "fatal", error: "could not load pretext.wasm: " + (err && err.message ? err.message : err) });
    return;
  }
  // Before go.run: Go installs the kernel when it starts.
  // worker.js?simd=0 leaves it out (the benchmark's pure-Go figure).
  if (new URLSearchParams(self.location.search).get("simd") !== "0") {
    const noSimd = await loadGemm(result.instance);
    if (noSimd) console.warn(noSimd + "; Pretext uses its pure-Go matrix kernel");
  }
  go.run(result.instance).then(
    () => post({ event: "fatal", error: "the Pretext module exited" }),
    (err) => post({ event: "fatal", error: "the Pretext module crashed: " + err }),
  );
  // main installs the global before it blocks; wait for it all the same.
  while (!self.pretext) await new Promise((r) => setTimeout(r, 5));
  ready = true;
  post({ event: "ready", version: self.pretext.version, tasks: await self.pretext.tasks() });
  for (const m of pending.splice(0)) handle(m);
}

start();
