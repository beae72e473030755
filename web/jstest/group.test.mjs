// group.test.mjs: the collective's exchanges across workers (group.js):
// the page's hub adds every worker's values in rank order and hands each
// worker the same sums; a worker's message group posts its values and
// takes the sums back into its memory; the shared-memory group does the
// same in a SharedArrayBuffer, here between Node worker threads; and a
// worker out of step or stopped stops the others with the reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Worker } from "node:worker_threads";
import * as group from "../group.js";
import { value } from "./groupworker.mjs";

// rankSum is the sum of parts[0][i], parts[1][i], ... in rank order, in
// float32 when f32 (as every worker must add them, to get the same bits).
function rankSum(parts, i, f32) {
  let v = parts[0][i];
  for (let r = 1; r < parts.length; r++) v = f32 ? Math.fround(v + parts[r][i]) : v + parts[r][i];
  return v;
}

test("Hub adds the workers' values in rank order, whatever order they come in", () => {
  const sent = [];
  const hub = new group.Hub(3, (rank, msg, transfer) => sent.push({ rank, msg, transfer }));
  // In float32, 1e8 + 1 is 1e8, and 2^24 + 1 is 2^24 but 2^24 + 2 is not:
  // the first values sum to 1 in arrival order (2, 0, 1), the third to
  // 2^24 + 2 in reverse order; in rank order they are 0 and 2^24.
  hub.take(2, { event: "reduce", call: 1, kind: "f32", data: Float32Array.of(-1e8, 0.5, 1) });
  hub.take(0, { event: "reduce", call: 1, kind: "f32", data: Float32Array.of(1e8, 0.25, 2 ** 24) });
  assert.equal(sent.length, 0, "no sums before every worker has given its values");
  hub.take(1, { event: "reduce", call: 1, kind: "f32", data: Float32Array.of(1, 0.125, 1) });
  assert.deepEqual(sent.map((s) => s.rank), [0, 1, 2]);
  for (const { msg, transfer } of sent) {
    assert.equal(msg.event, "reduced");
    assert.equal(msg.call, 1);
    assert.ok(msg.data instanceof Float32Array);
    assert.deepEqual(Array.from(msg.data), [0, 0.875, 2 ** 24], "the sums, in rank order");
    assert.deepEqual(transfer, [msg.data.buffer], "the sums are transferred");
  }
  assert.equal(new Set(sent.map((s) => s.msg.data.buffer)).size, 3, "each worker gets its own copy");
  // float64 keeps the 1.
  const sums = [];
  const hub64 = new group.Hub(3, (rank, msg) => sums.push(msg.data));
  [1e8, 1, -1e8].forEach((v, r) => hub64.take(r, { call: 1, kind: "f64", data: Float64Array.of(v) }));
  assert.deepEqual(sums.map((d) => [d.constructor.name, d[0]]), [["Float64Array", 1], ["Float64Array", 1], ["Float64Array", 1]]);
});

test("Hub keeps calls apart", () => {
  const sent = [];
  const hub = new group.Hub(2, (rank, msg) => sent.push([rank, msg.call, Array.from(msg.data)]));
  hub.take(0, { call: 1, kind: "f64", data: Float64Array.of(1) });
  hub.take(0, { call: 2, kind: "f64", data: Float64Array.of(10) });
  hub.take(1, { call: 2, kind: "f64", data: Float64Array.of(20) });
  hub.take(1, { call: 1, kind: "f64", data: Float64Array.of(2) });
  assert.deepEqual(sent, [[0, 2, [30]], [1, 2, [30]], [0, 1, [3]], [1, 1, [3]]]);
  assert.equal(hub.calls.size, 0, "nothing left waiting");
});

test("Hub stops every worker when their values do not agree", () => {
  const cases = [
    { name: "length", a: new Float32Array(3), b: new Float32Array(2), want: "workers out of step: worker 0 adds 3 values, worker 1 2 (call 4)" },
    { name: "kind", a: new Float32Array(2), b: new Float64Array(2), want: "workers out of step: worker 0 adds 2 values, worker 1 2 (call 4)" },
  ];
  for (const c of cases) {
    const sent = [];
    const hub = new group.Hub(2, (rank, msg, transfer) => sent.push({ rank, msg, transfer }));
    hub.take(0, { call: 4, kind: "f32", data: c.a });
    hub.take(1, { call: 4, kind: "f32", data: c.b });
    assert.deepEqual(sent, [0, 1].map((rank) => ({ rank, msg: { event: "reduced", error: c.want }, transfer: [] })), c.name);
    hub.take(0, { call: 5, kind: "f32", data: c.a });
    hub.take(1, { call: 5, kind: "f32", data: c.a });
    hub.abort("again");
    assert.equal(sent.length, 2, `${c.name}: a stopped hub sends nothing more`);
  }
  const sent = [];
  new group.Hub(3, (rank, msg) => sent.push(msg.error)).abort("");
  assert.deepEqual(sent, ["a worker stopped", "a worker stopped", "a worker stopped"]);
});

test("messages: a worker posts a copy of its values and takes the sums back in place", async () => {
  const memory = { buffer: new ArrayBuffer(64) };
  new Float32Array(memory.buffer, 8, 3).set([1, 2, 3]);
  const posted = [];
  const g = group.messages({ rank: 1, size: 2 }, memory, (msg, transfer) => posted.push({ msg, transfer }));
  assert.deepEqual([g.rank, g.size], [1, 2]);
  const done = g.reduce("f32", 8, 3);
  assert.equal(posted.length, 1);
  const { msg, transfer } = posted[0];
  assert.deepEqual({ ...msg, data: Array.from(msg.data) }, { event: "reduce", call: 1, kind: "f32", data: [1, 2, 3] });
  assert.notEqual(msg.data.buffer, memory.buffer, "a copy, not the module's memory");
  assert.deepEqual(transfer, [msg.data.buffer]);
  g.deliver({ event: "reduced", call: 99, data: Float32Array.of(0, 0, 0) }); // not a call of this worker
  assert.deepEqual(Array.from(new Float32Array(memory.buffer, 8, 3)), [1, 2, 3], "an answer to another call changes nothing");
  g.deliver({ event: "reduced", call: 1, data: Float32Array.of(10, 20, 30) });
  await done;
  assert.deepEqual(Array.from(new Float32Array(memory.buffer, 8, 3)), [10, 20, 30]);
  assert.deepEqual(Array.from(new Float32Array(memory.buffer, 0, 2)), [0, 0], "nothing outside the values changes");
  assert.equal(g.stats.calls, 1);
  // Sums of the wrong size or kind are refused.
  const wrongSize = g.reduce("f32", 8, 3);
  g.deliver({ call: 2, data: Float32Array.of(1, 2) });
  await assert.rejects(wrongSize, /^Error: the page sent back sums of the wrong size$/);
  const wrongKind = g.reduce("f64", 16, 2);
  g.deliver({ call: 3, data: Float32Array.of(1, 2) });
  await assert.rejects(wrongKind, /the page sent back sums of the wrong size/);
  assert.throws(() => g.reduce("f16", 0, 1), /^Error: group: unknown value kind f16$/);
});

test("messages: a failure ends the waiting reductions and refuses the next", async () => {
  const memory = { buffer: new ArrayBuffer(64) };
  const posted = [];
  const g = group.messages({ rank: 0, size: 3 }, memory, (msg) => posted.push(msg));
  const a = g.reduce("f64", 0, 2);
  const b = g.reduce("f64", 16, 2);
  g.deliver({ event: "reduced", error: "worker 2 ran out of memory" });
  await assert.rejects(a, /^Error: worker 2 ran out of memory$/);
  await assert.rejects(b, /^Error: worker 2 ran out of memory$/);
  assert.throws(() => g.reduce("f64", 0, 2), /^Error: worker 2 ran out of memory$/);
  // abort tells the page, keeping the first reason.
  const h = group.messages({ rank: 1, size: 2 }, memory, (msg) => posted.push(msg));
  const c = h.reduce("f32", 0, 1);
  h.abort("the photos ran out");
  await assert.rejects(c, /^Error: the photos ran out$/);
  assert.deepEqual(posted.at(-1), { event: "abort", reason: "the photos ran out" });
  h.deliver({ error: "later" });
  assert.throws(() => h.reduce("f32", 0, 1), /^Error: the photos ran out$/);
});

test("messages and Hub: every worker ends with the same rank-order sums", async () => {
  const size = 3;
  const count = 1000;
  const offset = 24;
  const memories = [];
  const groups = [];
  const hub = new group.Hub(size, (rank, msg) => queueMicrotask(() => groups[rank].deliver(msg)));
  for (let r = 0; r < size; r++) {
    const memory = { buffer: new ArrayBuffer(offset + 4 * count) };
    const view = new Float32Array(memory.buffer, offset, count);
    for (let i = 0; i < count; i++) view[i] = value(r, i);
    memories.push(memory);
    groups.push(group.messages({ rank: r, size }, memory, (msg) => queueMicrotask(() => hub.take(r, msg))));
  }
  const parts = memories.map((m) => new Float32Array(m.buffer, offset, count).slice());
  // Two reductions in a row, as a step reduces its gradients, then its statistics.
  await Promise.all(groups.map((g) => g.reduce("f32", offset, count)));
  await Promise.all(groups.map((g) => g.reduce("f32", offset, 1)));
  for (let r = 0; r < size; r++) {
    const got = new Float32Array(memories[r].buffer, offset, count);
    assert.equal(got[0], 0, `worker ${r}: the first value, summed twice`);
    for (let i = 1; i < count; i++) {
      if (got[i] !== rankSum(parts, i, true)) assert.fail(`worker ${r}, value ${i}: got ${got[i]}, want ${rankSum(parts, i, true)}`);
    }
    assert.equal(groups[r].stats.calls, 2);
  }
});

// runShared runs a shared-memory group of size workers in Node worker
// threads (only those in ranks, if given) and resolves to each worker's
// answer.
function runShared(size, calls, { ranks, sab = new SharedArrayBuffer(group.bytes(size)) } = {}) {
  ranks = ranks || [...Array(size).keys()];
  const url = new URL("./groupworker.mjs", import.meta.url);
  return Promise.all(ranks.map((rank) => new Promise((resolve, reject) => {
    const w = new Worker(url, { workerData: { rank, size, sab, calls: typeof calls === "function" ? calls(rank) : calls } });
    w.once("message", (msg) => {
      resolve(msg);
      w.terminate();
    });
    w.once("error", reject);
  })));
}

test("shared: workers add their values in a SharedArrayBuffer, chunk by chunk", async () => {
  const size = 3;
  // 300000 float32 values are more than one 1 MiB slot: two chunks.
  const calls = [{ kind: "f32", offset: 16, count: 300000 }, { kind: "f64", offset: 8, count: 5 }];
  const answers = await runShared(size, calls);
  for (const [c, { kind, count }] of calls.entries()) {
    const f32 = kind === "f32";
    const parts = [...Array(size).keys()].map((r) => Array.from({ length: count }, (_, i) => (f32 ? Math.fround(value(r, i)) : value(r, i))));
    for (const [rank, a] of answers.entries()) {
      assert.equal(a.error, undefined, `worker ${rank}: ${a.error}`);
      assert.equal(a.stats.calls, 2);
      const got = a.sums[c];
      assert.equal(got.length, count);
      assert.equal(got[0], f32 ? 0 : 1, `worker ${rank}, ${kind}: rank order`);
      for (let i = 0; i < count; i++) {
        if (got[i] !== rankSum(parts, i, f32)) assert.fail(`worker ${rank}, ${kind} value ${i}: got ${got[i]}, want ${rankSum(parts, i, f32)}`);
      }
    }
  }
});

test("shared: workers out of step stop, saying so", async () => {
  const answers = await runShared(3, (rank) => [{ kind: "f32", offset: 0, count: rank === 1 ? 7 : 8 }]);
  for (const [rank, a] of answers.entries()) {
    assert.ok(a.error, `worker ${rank} went on: ${JSON.stringify(a)}`);
    assert.match(a.error, /^(workers out of step: worker \d adds \d values \(call 1\), worker \d \d \(call 1\)|another worker stopped, so this one stops too)$/);
  }
  const named = answers.map((a) => a.error).filter((e) => e.startsWith("workers out of step"));
  assert.ok(named.length > 0, "one worker names the disagreement");
  for (const e of named) assert.match(e, /worker 0 adds 8 values \(call 1\), worker 1 7 \(call 1\)|worker 1 adds 7 values \(call 1\), worker 0 8 \(call 1\)|worker 2 adds 8 values \(call 1\), worker 1 7 \(call 1\)/);
});

test("shared: abortShared stops a worker waiting for the others", async () => {
  const sab = new SharedArrayBuffer(group.bytes(2));
  const answer = runShared(2, [{ kind: "f64", offset: 0, count: 4 }], { ranks: [0], sab });
  // Worker 1 never comes; the page gives up on it.
  setTimeout(() => group.abortShared(sab, 2), 100);
  const [a] = await answer;
  assert.equal(a.error, "another worker stopped, so this one stops too");
});

test("bytes: the control words, then two slots of 1 MiB per worker", () => {
  for (const size of [1, 2, 4, 8]) {
    const b = group.bytes(size);
    assert.equal(b % 64, 0, "slots are 64-byte aligned");
    const control = b - 2 * size * (1 << 20);
    assert.ok(control >= (4 + 4 * size) * 4 && control < (4 + 4 * size) * 4 + 64 + 16, `size ${size}: ${control} control bytes`);
  }
});
