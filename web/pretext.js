// pretext.js: the Go module's API (docs/browser.md) as the page calls it.
// The module runs in the page's Web Workers (team.js, worker.js): calls
// that change photos or model go to every worker, questions to the first,
// and training runs on as many workers as the form asks for, as one
// data-parallel group. If the workers die, every pending call fails at once.
import { Team } from "./team.js";
import { errorText } from "./format.js";
import { showMessage } from "./messages.js";

let team = null;
let ready = false; // the first worker runs the module
let failure = ""; // why the module cannot run, once it cannot
const rejecters = new Set(); // of the calls still waiting

// isReady reports whether the module is running.
export function isReady() {
  return ready;
}

// failed is why the module cannot run, or "" while it can.
export function failed() {
  return failure;
}

// start starts the first worker. onReady receives its {version, tasks}
// once the module runs, onProgress each event of a training run, and
// onFatal the reason, once, if the module cannot run.
export function start({ onReady, onProgress, onFatal }) {
  const fatal = (text) => {
    if (failure) return;
    failure = text;
    for (const reject of rejecters) reject(new Error(text));
    rejecters.clear();
    onFatal(text);
  };
  try {
    team = new Team((msg) => {
      if (msg.event === "ready") {
        ready = true;
        onReady(msg);
      } else if (msg.event === "progress") {
        onProgress(msg.data);
      } else if (msg.event === "fatal") {
        team.fail(msg.error);
        if (msg.script && ready) showMessage(`Worker ${msg.rank + 1} reported an error: ${msg.error}`);
        else fatal(msg.error || "unknown error");
      }
    });
    team.grow(1).catch(() => {}); // failures arrive as fatal events
  } catch (err) {
    fatal("the worker could not start: " + errorText(err));
  }
}

// call sends one call to the workers; its Promise settles with the answer.
export function call(method, ...args) {
  if (failure) return Promise.reject(new Error(failure));
  if (!team) return Promise.reject(new Error("the Pretext workers are not running"));
  return settleOnFatal(team.call(method, ...args));
}

// runOn trains (or benches) on the first n workers, starting any missing.
export async function runOn(method, args, n) {
  if (failure) throw new Error(failure);
  await settleOnFatal(team.grow(n));
  return settleOnFatal(team.run(method, args, n));
}

// settleOnFatal rejects p's caller at once if the workers die meanwhile.
function settleOnFatal(p) {
  return new Promise((resolve, reject) => {
    rejecters.add(reject);
    p.then(resolve, reject).finally(() => {
      rejecters.delete(reject);
    });
  });
}
