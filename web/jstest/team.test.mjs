// team.test.mjs: the page's workers used as one (team.js), with fake
// workers that answer as worker.js does and exchange values through
// group.js's real message groups: which calls go to every worker and are
// replayed to a new one, how a data-parallel run gathers each worker's
// part and sums, and which error a failed run reports.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import * as group from "../group.js";

// set defines a global as the page's would be (navigator is a getter on
// Node 21's globalThis: define, do not assign).
function set(name, value) {
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}
set("self", globalThis);
set("navigator", { hardwareConcurrency: 2 });
const { Team, MAX_WORKERS, defaultWorkers } = await import("../team.js");

const tick = () => new Promise((r) => setTimeout(r, 0));
const STOPPED = "another worker stopped, so this one stops too";

// FakeWorker answers as worker.js: "ready" first, then each call's result
// or error with its id; train and bench run in a group (group.messages
// without shared memory) whose values are rank + 1 and whose answer
// carries the sums and the exchange's stats. behave(worker, method, args)
// may answer a call instead (return undefined to fall through).
class FakeWorker {
  static all = [];
  static behave = () => undefined;

  constructor(script, options) {
    this.script = script;
    this.options = options;
    this.rank = FakeWorker.all.length;
    this.received = []; // {method, args} of each call, in order
    this.busy = 0; // calls being handled
    this.maxBusy = 0;
    this.memory = { buffer: new ArrayBuffer(64) };
    this.running = null; // the group of the running train or bench call
    this.terminated = false;
    FakeWorker.all.push(this);
    setTimeout(() => this.emit({ event: "ready", version: "test", tasks: [] }), 0);
  }

  emit(data) {
    this.onmessage({ data });
  }

  postMessage(msg) {
    if (msg.event === "reduced") {
      if (this.running) this.running.deliver(msg);
      return;
    }
    this.received.push({ method: msg.method, args: msg.args });
    // worker.js's inGroup makes the group as the call arrives, before it
    // waits for anything: the hub's answers find it.
    const setup = (msg.method === "train" || msg.method === "bench") && msg.args[1];
    const g = setup && setup.size > 1 && !setup.sab ? group.messages(setup, this.memory, (m) => this.emit(m)) : null;
    this.running = g;
    this.handle(msg, g);
  }

  async handle({ id, method, args }, g) {
    this.busy++;
    this.maxBusy = Math.max(this.maxBusy, this.busy);
    try {
      // Later workers answer sooner: calls sent together would overlap.
      await new Promise((r) => setTimeout(r, 3 - Math.min(this.rank, 3)));
      this.emit({ id, result: await this.call(method, args, g) });
    } catch (err) {
      if (g) g.abort(err.message);
      this.emit({ id, error: err.message });
    } finally {
      this.busy--;
      if (this.running === g) this.running = null;
    }
  }

  async call(method, args, g) {
    const own = await FakeWorker.behave(this, method, args);
    if (own !== undefined) return own;
    if (method !== "train" && method !== "bench") return { rank: this.rank, method };
    const setup = args[1];
    if (!setup) return { steps: args[0].steps, sums: null };
    if (setup.sab) return { steps: args[0].steps, exchange: { rank: setup.rank } };
    if (setup.rank === 0) this.emit({ event: "progress", data: { step: 1 } });
    else this.emit({ event: "progress", data: { step: -1 } }); // the page must not see it
    new Float32Array(this.memory.buffer, 0, 4).fill(setup.rank + 1);
    await g.reduce("f32", 0, 4);
    return {
      steps: args[0].steps,
      sums: Array.from(new Float32Array(this.memory.buffer, 0, 4)),
      exchange: { rank: g.rank, ...g.stats },
    };
  }

  terminate() {
    this.terminated = true;
  }
}
set("Worker", FakeWorker);

let events;
beforeEach(() => {
  FakeWorker.all = [];
  FakeWorker.behave = () => undefined;
  events = [];
  set("crossOriginIsolated", false);
});

const newTeam = () => new Team((e) => events.push(e), "worker.js?simd=0");

test("defaultWorkers: a worker per core, at most 4", () => {
  const cases = [[1, 1], [2, 2], [4, 4], [16, 4], [undefined, 1], [0, 1]];
  for (const [cores, want] of cases) {
    set("navigator", { hardwareConcurrency: cores });
    assert.equal(defaultWorkers(), want, `${cores} cores`);
  }
});

test("grow starts module workers up to the number asked, at most 8", async () => {
  const team = newTeam();
  const ready = await team.grow(2);
  assert.equal(team.size, 2);
  assert.deepEqual(ready.map((r) => r.event), ["ready", "ready"]);
  assert.deepEqual(FakeWorker.all.map((w) => [w.script, w.options.type]), [["worker.js?simd=0", "module"], ["worker.js?simd=0", "module"]]);
  assert.deepEqual(events.map((e) => e.event), ["ready"], "only worker 0's ready reaches the page");
  await team.grow(1);
  assert.equal(team.size, 2, "grow never shrinks");
  await team.grow(100);
  assert.equal(team.size, MAX_WORKERS);
  assert.equal(MAX_WORKERS, 8);
  team.terminate();
  assert.equal(team.size, 0);
  assert.ok(FakeWorker.all.every((w) => w.terminated));
});

test("a question goes to worker 0; a change goes to all, answered by worker 0 once all answered", async () => {
  const team = newTeam();
  await assert.rejects(team.call("version"), /^Error: the Pretext workers are not running$/);
  await team.grow(3);
  assert.deepEqual(await team.call("predict", "a.jpg"), { rank: 0, method: "predict" });
  assert.deepEqual(FakeWorker.all.map((w) => w.received.length), [1, 0, 0]);
  assert.deepEqual(FakeWorker.all[0].received[0], { method: "predict", args: ["a.jpg"] });
  for (const method of ["addFiles", "addSamples", "clearImages", "importModel", "restoreSession", "stop"]) {
    assert.deepEqual(await team.call(method, 1), { rank: 0, method }, method);
  }
  for (const w of FakeWorker.all.slice(1)) {
    assert.deepEqual(w.received.map((c) => c.method), ["addFiles", "addSamples", "clearImages", "importModel", "restoreSession", "stop"]);
  }
  // One worker refusing a change fails the call, with its reason.
  FakeWorker.behave = (w, method) => {
    if (method === "importModel" && w.rank === 2) throw new Error("worker 2: the checkpoint is damaged");
  };
  await assert.rejects(team.call("importModel", new Uint8Array(4)), /^Error: worker 2: the checkpoint is damaged$/);
});

test("a new worker gets the photo and model calls replayed, in order and one at a time", async () => {
  const team = newTeam();
  await team.grow(1);
  await team.call("addSamples");
  await team.call("importModel", "old model");
  await team.call("addFiles", ["a.jpg"], { maxMegabytes: 64 });
  await team.call("clearImages"); // forgets the photos added before it, not the model
  await team.call("addFiles", ["b.jpg"]);
  await team.call("stop"); // not replayed
  await team.call("restoreSession", "session");
  await team.grow(3);
  const want = [
    { method: "importModel", args: ["old model"] },
    { method: "clearImages", args: [] },
    { method: "addFiles", args: [["b.jpg"]] },
    { method: "restoreSession", args: ["session"] },
  ];
  for (const w of FakeWorker.all.slice(1)) {
    assert.deepEqual(w.received, want, `worker ${w.rank}`);
    assert.equal(w.maxBusy, 1, `worker ${w.rank} was replayed one call at a time`);
  }
});

test("a change the workers refused is not replayed to a worker started later", async () => {
  const team = newTeam();
  await team.grow(1);
  await team.call("importModel", "good model");
  FakeWorker.behave = (w, method, args) => {
    if ((method === "importModel" || method === "restoreSession") && args[0] === "garbage") throw new Error("not a Pretext checkpoint");
  };
  await assert.rejects(team.call("importModel", "garbage"), /not a Pretext checkpoint/);
  await assert.rejects(team.call("restoreSession", "garbage"), /not a Pretext checkpoint/);
  await team.grow(2);
  assert.deepEqual(FakeWorker.all[1].received, [{ method: "importModel", args: ["good model"] }]);
});

test("run: the first k workers train as one group, and the page adds their values", async () => {
  const team = newTeam();
  await team.grow(4);
  events.length = 0;
  const res = await team.run("train", [{ steps: 5 }], 3);
  // Every worker of the group ends with the sum 1 + 2 + 3; worker 0 answers.
  assert.deepEqual(res.sums, [6, 6, 6, 6]);
  assert.equal(res.steps, 5);
  assert.equal(res.workers, 3);
  assert.equal(res.shared, false);
  assert.deepEqual(res.exchanges.map((e) => [e.rank, e.calls]), [[0, 1], [1, 1], [2, 1]], "each worker's own exchange stats");
  const setups = FakeWorker.all.map((w) => w.received.filter((c) => c.method === "train").map((c) => c.args[1]));
  assert.deepEqual(setups, [[{ rank: 0, size: 3, sab: null }], [{ rank: 1, size: 3, sab: null }], [{ rank: 2, size: 3, sab: null }], []]);
  assert.deepEqual(events, [{ event: "progress", data: { step: 1 } }], "only worker 0's progress reaches the page");
  assert.equal(team.hub, null, "the hub goes with the run");
  // k is bounded by the workers there are, and one worker runs alone.
  const all = await team.run("train", [{ steps: 2 }], 9);
  assert.equal(all.workers, 4);
  assert.deepEqual(all.sums, [10, 10, 10, 10]);
  const alone = await team.run("train", [{ steps: 2 }], 1);
  assert.deepEqual(alone, { steps: 2, sums: null, workers: 1, shared: false });
  assert.equal(FakeWorker.all[0].received.at(-1).args[1], null, "no group for one worker");
});

test("run: a cross-origin isolated page gives the group a SharedArrayBuffer", async () => {
  set("crossOriginIsolated", true);
  const team = newTeam();
  await team.grow(2);
  const res = await team.run("bench", [{ steps: 3 }], 2);
  assert.equal(res.shared, true);
  assert.equal(res.workers, 2);
  const setups = FakeWorker.all.map((w) => w.received.at(-1).args.at(-1));
  assert.ok(setups[0].sab instanceof SharedArrayBuffer);
  assert.equal(setups[0].sab.byteLength, group.bytes(2));
  assert.equal(setups[1].sab, setups[0].sab, "one buffer for the group");
  assert.deepEqual(setups.map((s) => [s.rank, s.size]), [[0, 2], [1, 2]]);
  assert.deepEqual(res.exchanges, [{ rank: 0 }, { rank: 1 }]);
});

test("run: the error that stopped the group is the answer, not the others' stopping too", async () => {
  set("crossOriginIsolated", true);
  const team = newTeam();
  await team.grow(3);
  let sab = null;
  FakeWorker.behave = async (w, method, args) => {
    if (method !== "train") return undefined;
    sab = args[1].sab;
    if (w.rank === 1) throw new Error("worker 1 ran out of memory");
    // The others stop when the shared buffer says so (group.js's abort word).
    for (let i = 0; i < 5000 && !Atomics.load(new Int32Array(sab), 2); i++) await tick();
    throw new Error(Atomics.load(new Int32Array(sab), 2) ? STOPPED : "never told to stop");
  };
  await assert.rejects(team.run("train", [{ steps: 5 }], 3), /^Error: worker 1 ran out of memory$/);
  assert.equal(Atomics.load(new Int32Array(sab), 2), 1, "the page set the shared abort word");
  // When every worker only stopped, that is the answer.
  FakeWorker.behave = (w, method) => {
    if (method === "train") throw new Error(STOPPED);
  };
  await assert.rejects(team.run("train", [{ steps: 5 }], 3), new RegExp(`^Error: ${STOPPED}$`));
});

test("run: a worker's failure stops the others through the hub", async () => {
  const team = newTeam();
  await team.grow(3);
  FakeWorker.behave = (w, method) => {
    if (method === "train" && w.rank === 2) throw new Error("worker 2 could not read its photos");
  };
  await assert.rejects(team.run("train", [{ steps: 5 }], 3), /^Error: worker 2 could not read its photos$/);
  // The page stops a run (fail, when a worker died): the workers waiting
  // for the others give up, and a slow one stops at its next exchange.
  let release;
  const slow = new Promise((r) => (release = r));
  FakeWorker.behave = async (w, method) => {
    if (method === "train" && w.rank === 1) await slow;
    return undefined;
  };
  const run = team.run("train", [{ steps: 5 }], 3);
  await new Promise((r) => setTimeout(r, 10));
  team.fail("worker 3 crashed");
  release();
  await assert.rejects(run, /^Error: worker 3 crashed$/);
  team.fail("after the run"); // nothing to stop
});

test("a worker's fatal error and a failing script reach the page with its rank", async () => {
  const team = newTeam();
  await team.grow(3);
  FakeWorker.all[2].emit({ event: "fatal", error: "the Pretext module crashed" });
  let prevented = false;
  FakeWorker.all[1].onerror({ message: "", preventDefault: () => (prevented = true) });
  assert.deepEqual(events.slice(1), [
    { event: "fatal", error: "the Pretext module crashed", rank: 2 },
    { event: "fatal", error: "the worker script failed", rank: 1, script: true },
  ]);
  assert.ok(prevented, "the page handles the error itself");
  FakeWorker.all[0].onmessageerror();
  assert.deepEqual(events.at(-1), { event: "fatal", error: "a message from a worker could not be read", rank: 0 });
});
