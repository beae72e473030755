// curve.js: the training curve: the loss and the training-batch accuracy
// of every step of the model in this tab, drawn on the chart (chart.js).
import { LineChart } from "./chart.js";
import { byId } from "./dom.js";

const history = []; // {step, loss, accuracy} per step

const chart = new LineChart(byId("chart"), {
  series: [
    { key: "loss", label: "loss (left axis)", short: "loss", color: "#1f5fbf", axis: "left" },
    { key: "accuracy", label: "batch accuracy (right axis)", short: "accuracy", color: "#c2410c", axis: "right" },
  ],
  emptyText: "No training yet",
});

// points is a copy of the curve's points.
export function points() {
  return history.slice();
}

// addPoint adds a step's {step, loss, accuracy}.
export function addPoint({ step, loss, accuracy }) {
  history.push({ step, loss, accuracy });
}

// restartCurve replaces the curve with the points of a kept session, or
// with none (a new model).
export function restartCurve(kept = []) {
  history.splice(0, history.length, ...kept);
}

// drawCurve draws the curve on an x axis that ends at lastStep, the run's
// last step. Call it from an animation frame.
export function drawCurve(lastStep) {
  chart.update(history, lastStep);
}
