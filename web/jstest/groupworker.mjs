// groupworker.mjs: one worker of a shared-memory group (group.js's
// shared) in a Node worker thread, for group.test.mjs. workerData:
// {rank, size, sab, calls: [{kind, offset, count}]}; the worker fills its
// memory with value(rank, i) at each call's offset, reduces, and posts
// back {sums: [...]} (each call's values after the reduction) or {error}.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import * as group from "../group.js";

// value is rank's i-th value. The first three make the order of the sum
// show in float32: 1e8 + 1 rounds to 1e8, so in rank order 1e8 + 1 - 1e8
// is 0 there (and 1 in float64).
export function value(rank, i) {
  if (i === 0) return [1e8, 1, -1e8, 0][rank % 4];
  return Math.fround(Math.sin(i * 0.37 + rank) * 1000) / 7;
}

if (!isMainThread) {
  const { rank, size, sab, calls } = workerData;
  const typeOf = (kind) => (kind === "f32" ? Float32Array : Float64Array);
  const bytes = Math.max(...calls.map((c) => c.offset + c.count * typeOf(c.kind).BYTES_PER_ELEMENT));
  const memory = { buffer: new ArrayBuffer(bytes + 64) };
  const g = group.shared({ rank, size, sab }, memory);
  const sums = [];
  try {
    for (const { kind, offset, count } of calls) {
      const view = new (typeOf(kind))(memory.buffer, offset, count);
      for (let i = 0; i < count; i++) view[i] = value(rank, i);
      g.reduce(kind, offset, count);
      sums.push(view.slice());
    }
    parentPort.postMessage({ sums, stats: { calls: g.stats.calls } });
  } catch (err) {
    parentPort.postMessage({ error: err.message });
  }
}
