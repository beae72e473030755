// The benchmark page: runs pretext.bench in `workers` Web Workers as one
// data-parallel group (team.js) with the options in the URL, and shows the
// JSON result (cmd/browserbench reads it). While the workers train,
// it times the gaps between this page's animation frames: the page must
// stay responsive while it trains.
import { Team, defaultWorkers } from "./team.js";

const status = document.getElementById("bench-status");
const out = document.getElementById("bench-result");
const params = new URLSearchParams(location.search);
const opts = {
  workload: params.get("workload") || "rs",
  steps: Number(params.get("steps") || 20),
  warmup: Number(params.get("warmup") || 5),
};
const workers = Number(params.get("workers") || defaultWorkers());
// simd=0: the workers leave out the simd128 kernel (the pure-Go figure).
const script = params.get("simd") === "0" ? "worker.js?simd=0" : "worker.js";
const show = (state, text) => {
  status.dataset.state = state;
  status.textContent = text;
};

// frameGaps records the time between animation frames until stopped.
function frameGaps() {
  const gaps = [];
  let last = 0;
  let on = true;
  const tick = (t) => {
    if (last) gaps.push(t - last);
    last = t;
    if (on) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  return () => {
    on = false;
    gaps.sort((a, b) => a - b);
    const at = (q) => (gaps.length ? gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))] : 0);
    return { frames: gaps.length, max: at(1), p99: at(0.99), median: at(0.5) };
  };
}

const team = new Team((m) => {
  if (m.event === "fatal") {
    team.fail(m.error);
    show("error", `worker ${m.rank}: ${m.error}`);
  }
}, script);
(async () => {
  try {
    const ready = await team.grow(workers);
    const kernel = await team.call("kernels").catch(() => null);
    show("running", `${ready[0].version}: timing ${opts.steps} steps of workload ${opts.workload} after ${opts.warmup} warm-up steps in ${workers} worker(s)…`);
    const stop = frameGaps();
    const res = await team.run("bench", [opts], workers);
    res.frame_gaps = stop();
    res.cross_origin_isolated = self.crossOriginIsolated === true;
    if (kernel) res.kernel = kernel;
    out.textContent = JSON.stringify(res);
    show("done", `${opts.workload}: ${res.images_per_sec.toFixed(1)} images/s in ${res.workers} worker(s)`);
  } catch (err) {
    show("error", err && err.message ? err.message : String(err));
  }
})();
