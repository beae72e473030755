// The benchmark page: runs pretext.bench in the worker with the options in
// the URL and shows the JSON result (pretext bench -browser reads it).
"use strict";

(() => {
  const status = document.getElementById("bench-status");
  const out = document.getElementById("bench-result");
  const params = new URLSearchParams(location.search);
  const opts = {
    workload: params.get("workload") || "rs",
    steps: Number(params.get("steps") || 20),
    warmup: Number(params.get("warmup") || 5),
  };
  const show = (state, text) => {
    status.dataset.state = state;
    status.textContent = text;
  };
  const worker = new Worker("worker.js");
  worker.onerror = (e) => show("error", "worker failed: " + e.message);
  worker.onmessage = (e) => {
    const m = e.data;
    if (m.event === "fatal") {
      show("error", m.error);
    } else if (m.event === "ready") {
      show("running", `${m.version}: timing ${opts.steps} steps of workload ${opts.workload} after ${opts.warmup} warm-up steps…`);
      worker.postMessage({ id: 1, method: "bench", args: [opts] });
    } else if (m.id === 1) {
      if (m.error) {
        show("error", m.error);
        return;
      }
      out.textContent = JSON.stringify(m.result);
      show("done", `${opts.workload}: ${m.result.images_per_sec.toFixed(1)} images/s`);
    }
  };
})();
