// group.js: data-parallel training across Web Workers (docs/browser.md).
// Imported by the page's team.js (the hub and the shared buffer) and by
// worker.js (its group object, which the Go module calls to add up values).
//
// A group object is what the Go module's train and bench take as a worker's
// place in the run: {rank, size, reduce(kind, offset, count)}, where
// reduce adds count values ("f32" or "f64") at byte offset `offset` of the
// module's memory across the workers, in rank order so that every worker
// gets the same bits, and writes the sums back in place.
//   - With a SharedArrayBuffer (the page is cross-origin isolated) the
//     workers meet in it: each copies its values into its slot, waits for
//     the others with Atomics, and adds the slots. reduce returns when done.
//   - Otherwise each worker posts its values to the page, whose hub adds
//     them and posts the sums back; reduce returns a Promise.

// Values are exchanged in chunks of SLOT bytes per worker; two sets of
// slots alternate, so a worker may fill the next chunk while a slower one
// still reads the last.
const SLOT = 1 << 20;
const SPIN_MS = 2;
// The control words: arrivals, generation, abort, then per set and rank
// the call number and the count (which must agree).
const COUNT = 0, GEN = 1, ABORT = 2, TAGS = 4;
// A worker waiting longer than this for the others gives up (rank 0 may
// spend a few seconds on previews while the others wait).
const TIMEOUT_MS = 180000;

function controlInts(size) {
  return TAGS + 2 * 2 * size + 4;
}
function dataOffset(size) {
  return Math.ceil((controlInts(size) * 4) / 64) * 64;
}

// bytes is the size of the shared buffer for a group of size workers.
export function bytes(size) {
  return dataOffset(size) + 2 * size * SLOT;
}

function typeOf(kind) {
  if (kind === "f32") return Float32Array;
  if (kind === "f64") return Float64Array;
  throw new Error("group: unknown value kind " + kind);
}

// addInto writes the rank-order sums of parts into dst.
function addInto(dst, parts, f32) {
  const n = dst.length;
  if (parts.length === 2) {
    const a = parts[0], b = parts[1];
    if (f32) for (let i = 0; i < n; i++) dst[i] = Math.fround(a[i] + b[i]);
    else for (let i = 0; i < n; i++) dst[i] = a[i] + b[i];
    return;
  }
  for (let i = 0; i < n; i++) {
    let v = parts[0][i];
    for (let r = 1; r < parts.length; r++) v = f32 ? Math.fround(v + parts[r][i]) : v + parts[r][i];
    dst[i] = v;
  }
}

// shared is a worker's group object over the SharedArrayBuffer sab.
export function shared({ rank, size, sab }, memory) {
  const ctrl = new Int32Array(sab, 0, controlInts(size));
  const base = dataOffset(size);
  let calls = 0;
  let round = 0;
  const stats = { calls: 0, wait_ms: 0, total_ms: 0 };

  function aborted() {
    return new Error("another worker stopped, so this one stops too");
  }

  function barrier() {
    const t0 = performance.now();
    try {
      wait();
    } finally {
      stats.wait_ms += performance.now() - t0;
    }
  }

  function wait() {
    const gen = Atomics.load(ctrl, GEN);
    if (Atomics.add(ctrl, COUNT, 1) === size - 1) {
      Atomics.store(ctrl, COUNT, 0);
      Atomics.add(ctrl, GEN, 1);
      Atomics.notify(ctrl, GEN);
    } else {
      const deadline = Date.now() + TIMEOUT_MS;
      // The others are usually close behind: spin for up to SPIN_MS
      // before sleeping, as waking from Atomics.wait takes a while.
      const spinUntil = performance.now() + SPIN_MS;
      for (let spin = 0; Atomics.load(ctrl, GEN) === gen; spin++) {
        if (Atomics.load(ctrl, ABORT)) throw aborted();
        if ((spin & 63) !== 63 || performance.now() < spinUntil) continue;
        if (Date.now() > deadline) {
          abort();
          throw new Error(`worker ${rank} waited ${TIMEOUT_MS / 1000} s for the others`);
        }
        Atomics.wait(ctrl, GEN, gen, 50);
      }
    }
    if (Atomics.load(ctrl, ABORT)) throw aborted();
  }

  function abort() {
    Atomics.store(ctrl, ABORT, 1);
    Atomics.notify(ctrl, GEN);
  }

  function reduce(kind, offset, count) {
    const t0 = performance.now();
    try {
      exchange(kind, offset, count);
    } finally {
      stats.calls++;
      stats.total_ms += performance.now() - t0;
    }
  }

  function exchange(kind, offset, count) {
    const T = typeOf(kind);
    const per = SLOT / T.BYTES_PER_ELEMENT;
    calls++;
    let off = 0;
    do {
      const len = Math.min(per, count - off);
      const set = round++ & 1;
      const tag = TAGS + 2 * (set * size + rank);
      Atomics.store(ctrl, tag, calls);
      Atomics.store(ctrl, tag + 1, count);
      const slot = (r) => new T(sab, base + (set * size + r) * SLOT, len);
      const at = offset + off * T.BYTES_PER_ELEMENT;
      slot(rank).set(new T(memory.buffer, at, len));
      barrier();
      const parts = [];
      for (let r = 0; r < size; r++) {
        const t = TAGS + 2 * (set * size + r);
        if (Atomics.load(ctrl, t) !== calls || Atomics.load(ctrl, t + 1) !== count) {
          abort();
          throw new Error(`workers out of step: worker ${rank} adds ${count} values (call ${calls}), worker ${r} ${Atomics.load(ctrl, t + 1)} (call ${Atomics.load(ctrl, t)})`);
        }
        parts.push(slot(r));
      }
      addInto(new T(memory.buffer, at, len), parts, T === Float32Array);
      off += len;
    } while (off < count);
  }

  return { rank, size, reduce, abort, stats, deliver() {} };
}

// messages is a worker's group object without shared memory: post sends
// a message to the page, whose hub answers through deliver.
export function messages({ rank, size }, memory, post) {
  let calls = 0;
  let failed = "";
  const waiting = new Map();
  const stats = { calls: 0, wait_ms: 0, total_ms: 0 };

  function fail(reason) {
    if (!failed) failed = reason || "another worker stopped, so this one stops too";
    for (const w of waiting.values()) w.reject(new Error(failed));
    waiting.clear();
  }

  return {
    rank,
    size,
    stats,
    reduce(kind, offset, count) {
      if (failed) throw new Error(failed);
      const T = typeOf(kind);
      const data = new T(count);
      data.set(new T(memory.buffer, offset, count));
      const id = ++calls;
      const t0 = performance.now();
      stats.calls++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject, T, offset, count, t0 });
        post({ event: "reduce", call: id, kind, data }, [data.buffer]);
      });
    },
    // deliver takes the hub's answer: {call, data} or {error}.
    deliver(msg) {
      if (msg.error) {
        fail(msg.error);
        return;
      }
      const w = waiting.get(msg.call);
      if (!w) return;
      waiting.delete(msg.call);
      if (!(msg.data instanceof w.T) || msg.data.length !== w.count) {
        w.reject(new Error("the page sent back sums of the wrong size"));
        return;
      }
      new w.T(memory.buffer, w.offset, w.count).set(msg.data);
      const ms = performance.now() - w.t0;
      stats.total_ms += ms;
      stats.wait_ms += ms;
      w.resolve();
    },
    abort(reason) {
      fail(reason);
      post({ event: "abort", reason: String(reason || "") });
    },
  };
}

// Hub adds up the workers' values for a group without shared memory (on
// the page). send(rank, message, transfer) posts to a worker.
export class Hub {
  constructor(size, send) {
    this.size = size;
    this.send = send;
    this.calls = new Map(); // call number -> {kind, parts}
    this.failed = "";
  }

  // take handles a worker's {event: "reduce"} message.
  take(rank, msg) {
    if (this.failed) return;
    let c = this.calls.get(msg.call);
    if (!c) {
      c = { kind: msg.kind, parts: new Array(this.size) };
      this.calls.set(msg.call, c);
    }
    c.parts[rank] = msg.data;
    const parts = c.parts;
    for (let r = 0; r < this.size; r++) if (!parts[r]) return;
    this.calls.delete(msg.call);
    const n = parts[0].length;
    for (let r = 1; r < this.size; r++) {
      if (parts[r].length !== n || parts[r].constructor !== parts[0].constructor) {
        this.abort(`workers out of step: worker 0 adds ${n} values, worker ${r} ${parts[r].length} (call ${msg.call})`);
        return;
      }
    }
    const sum = new parts[0].constructor(n);
    addInto(sum, parts, sum instanceof Float32Array);
    for (let r = 0; r < this.size; r++) {
      const data = r === this.size - 1 ? sum : sum.slice();
      this.send(r, { event: "reduced", call: msg.call, data }, [data.buffer]);
    }
  }

  // abort fails every worker's waiting and future reductions.
  abort(reason) {
    if (this.failed) return;
    this.failed = reason || "a worker stopped";
    for (let r = 0; r < this.size; r++) this.send(r, { event: "reduced", error: this.failed }, []);
  }
}

// abortShared stops the workers waiting in sab (used by the page when a
// worker fails).
export function abortShared(sab, size) {
  const ctrl = new Int32Array(sab, 0, controlInts(size));
  Atomics.store(ctrl, ABORT, 1);
  Atomics.notify(ctrl, GEN);
}
