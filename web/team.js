// team.js: the page's Web Workers (worker.js), used as one (docs/browser.md).
// Every worker holds the same photos and model: calls that change them go
// to all, questions go to worker 0, and train and bench run as a
// data-parallel group of the first k workers (group.js).
import * as group from "./group.js";

// MAX_WORKERS bounds the workers of a team.
export const MAX_WORKERS = 8;

// defaultWorkers is one worker per core, at most 4 (beyond that the
// exchanges cost more than the shares save on the small trunk).
export function defaultWorkers() {
  return Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 4));
}

// Calls that change a worker's photos or model go to every worker, and
// are replayed to workers started later.
const BROADCAST = new Set(["addFiles", "addSamples", "clearImages", "importModel", "restoreSession", "stop"]);
const REPLAYED = new Set(["addFiles", "addSamples", "clearImages", "importModel", "restoreSession"]);

function errorText(err) {
  return err && err.message ? err.message : String(err);
}

export class Team {
  // onEvent receives worker 0's events ({event: "ready" | "progress"}) and
  // any worker's {event: "fatal", error, rank}.
  // script is the worker's URL (default "worker.js"), a module script.
  constructor(onEvent, script = "worker.js") {
    this.onEvent = onEvent;
    this.script = script;
    this.members = [];
    this.log = []; // {method, args} of replayed calls, in order
    this.hub = null; // the running group's hub (no shared memory)
    this.nextId = 1;
  }

  get size() {
    return this.members.length;
  }

  // grow starts workers until there are n (at most MAX_WORKERS) and
  // replays the photos and model calls to the new ones.
  grow(n) {
    n = Math.min(Math.max(1, n | 0), MAX_WORKERS);
    while (this.members.length < n) {
      const m = this.spawn(this.members.length);
      // The worker handles calls concurrently: replay one after the other.
      const log = this.log.slice();
      m.synced = m.ready.then(async (ready) => {
        for (const { method, args } of log) await m.call(method, args);
        return ready;
      });
      m.synced.catch(() => {});
    }
    return Promise.all(this.members.slice(0, n).map((m) => m.synced));
  }

  spawn(rank) {
    const worker = new Worker(this.script, { type: "module" });
    const pending = new Map();
    let readyResolve, readyReject;
    const m = {
      rank,
      worker,
      ready: new Promise((res, rej) => ((readyResolve = res), (readyReject = rej))),
      call: (method, args) =>
        new Promise((resolve, reject) => {
          const id = this.nextId++;
          pending.set(id, { resolve, reject });
          try {
            worker.postMessage({ id, method, args });
          } catch (err) {
            pending.delete(id);
            reject(err);
          }
        }),
    };
    m.ready.catch(() => {});
    worker.onmessage = (e) => {
      const msg = e.data || {};
      if (msg.event === "ready") {
        readyResolve(msg);
        if (rank === 0) this.onEvent(msg);
      } else if (msg.event === "progress") {
        if (rank === 0) this.onEvent(msg);
      } else if (msg.event === "reduce") {
        if (this.hub) this.hub.take(rank, msg);
      } else if (msg.event === "abort") {
        if (this.hub) this.hub.abort(msg.reason);
      } else if (msg.event === "fatal") {
        readyReject(new Error(msg.error));
        this.onEvent({ event: "fatal", error: msg.error, rank });
      } else if (pending.has(msg.id)) {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if ("error" in msg) p.reject(new Error(msg.error));
        else p.resolve(msg.result);
      }
    };
    worker.onerror = (e) => {
      e.preventDefault();
      const text = e.message || "the worker script failed";
      readyReject(new Error(text));
      this.onEvent({ event: "fatal", error: text, rank, script: true });
    };
    worker.onmessageerror = () => this.onEvent({ event: "fatal", error: "a message from a worker could not be read", rank });
    this.members.push(m);
    return m;
  }

  // call sends a call to every worker if it changes photos or model (and
  // answers with worker 0's result, after all have answered), else to
  // worker 0.
  async call(method, ...args) {
    if (!this.members.length) throw new Error("the Pretext workers are not running");
    if (!BROADCAST.has(method)) return this.members[0].call(method, args);
    const entry = { method, args };
    if (REPLAYED.has(method)) {
      if (method === "clearImages") this.log = this.log.filter((c) => c.method === "importModel" || c.method === "restoreSession");
      this.log.push(entry);
    }
    const results = await Promise.allSettled(this.members.map((m) => m.call(method, args)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) {
      // A call that failed changed nothing: a worker started later must not replay it.
      this.log = this.log.filter((c) => c !== entry);
      throw failed.reason;
    }
    return results[0].value;
  }

  // run calls method (train or bench) on the first k workers as one
  // data-parallel group and answers with worker 0's result. If one worker
  // fails, the others are stopped and the first worker's own error is
  // the answer.
  async run(method, args, k) {
    k = Math.min(Math.max(1, k | 0), this.members.length);
    const isolated = self.crossOriginIsolated === true && typeof SharedArrayBuffer === "function";
    const sab = k > 1 && isolated ? new SharedArrayBuffer(group.bytes(k)) : null;
    this.hub = k > 1 && !sab ? new group.Hub(k, (r, msg, transfer) => this.members[r].worker.postMessage(msg, transfer)) : null;
    const hub = this.hub;
    const abort = (reason) => {
      if (sab) group.abortShared(sab, k);
      if (hub) hub.abort(reason);
    };
    this.abortRun = abort;
    const calls = this.members.slice(0, k).map((m) =>
      m.call(method, [...args, k > 1 ? { rank: m.rank, size: k, sab } : null]).catch((err) => {
        abort(errorText(err));
        throw err;
      }),
    );
    try {
      const results = await Promise.allSettled(calls);
      const errors = results.filter((r) => r.status === "rejected").map((r) => r.reason);
      if (errors.length) {
        // Prefer the error that started it over the others' "stopped too".
        throw errors.find((e) => !/another worker stopped/.test(errorText(e))) || errors[0];
      }
      const res = { ...results[0].value, workers: k, shared: !!sab };
      if (k > 1) res.exchanges = results.map((r) => r.value && r.value.exchange);
      return res;
    } finally {
      if (this.hub === hub) this.hub = null;
      this.abortRun = null;
    }
  }

  // fail stops a running group (a worker died).
  fail(reason) {
    if (this.abortRun) this.abortRun(reason);
  }

  terminate() {
    for (const m of this.members) m.worker.terminate();
    this.members = [];
  }
}
