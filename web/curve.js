// curve.js: the training curve: the loss and the training-batch accuracy
// of every step of the model in this tab, and the k-NN accuracy on the
// photos named in step 4 at the steps it was measured, drawn on the chart
// (chart.js), with a line under it on the last k-NN measure (#knn-note).
import { LineChart } from "./chart.js";
import { byId } from "./dom.js";
import { pct, plural } from "./format.js";

// history holds a point per step, {step, loss, accuracy}, and on the steps
// measured also {knn, knnImages, knnK, knnSeconds}: the k-NN accuracy,
// the photos it was measured on, the neighbours that voted and the time
// it took. Sessions keep it as it
// is (sessions.js), so the measures come back after a reload.
const history = [];
let note = ""; // #knn-note's text while no point has a k-NN accuracy

const chart = new LineChart(byId("chart"), {
  series: [
    { key: "loss", label: "loss (left axis)", short: "loss", color: "#1f5fbf", axis: "left" },
    { key: "accuracy", label: "batch accuracy (right axis)", short: "accuracy", color: "#c2410c", axis: "right" },
    { key: "knn", label: "k-NN accuracy (named photos, right axis)", short: "k-NN", color: "#15803d", axis: "right", sparse: true },
  ],
  emptyText: "No training yet",
});
const knnNote = byId("knn-note");

// points is a copy of the curve's points.
export function points() {
  return history.slice();
}

// addPoint adds a step's {step, loss, accuracy}.
export function addPoint({ step, loss, accuracy }) {
  history.push({ step, loss, accuracy });
}

// addKNN adds a "knn" event's {step, accuracy, images, k, seconds} to the
// point of its step, which came before it.
export function addKNN({ step, accuracy, images, k, seconds }) {
  let p = history.findLast((q) => q.step === step);
  if (!p) history.push((p = { step }));
  Object.assign(p, { knn: accuracy, knnImages: images, knnK: k, knnSeconds: seconds });
}

// noteKNN sets what #knn-note says while the curve has no k-NN accuracy
// (a hint, or why there is none).
export function noteKNN(text) {
  note = text;
}

// restartCurve replaces the curve with the points of a kept session, or
// with none (a new model).
export function restartCurve(kept = []) {
  history.splice(0, history.length, ...kept);
  note = "";
}

// drawCurve draws the curve on an x axis that ends at lastStep, the run's
// last step, and says what the last k-NN measure was. Call it from an
// animation frame.
export function drawCurve(lastStep) {
  chart.update(history, lastStep);
  knnNote.textContent = knnText(history, note);
}

// knnText is what #knn-note says about the points: their last k-NN
// measure, or else fallback.
export function knnText(points, fallback) {
  const p = points.findLast((q) => Number.isFinite(q.knn));
  return p
    ? `k-NN accuracy at step ${p.step}: ${pct(p.knn)} on ${plural(p.knnImages, "named photo")}, ` +
      `each classified by a vote of its ${p.knnK} nearest ${p.knnK === 1 ? "neighbour" : "neighbours"} among the others (green, right axis).`
    : fallback;
}
