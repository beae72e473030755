// chart.test.mjs: the training chart's scaling (chart.js): tick spacing,
// the axes' ranges for positive and negative losses, a single point, the
// smoothing, the sparse k-NN series, and a drawing on a recording canvas
// that never hands the context a NaN.
import { test } from "node:test";
import assert from "node:assert/strict";
import { installPage } from "./fakedom.mjs";
import { decimals, legendSeries, niceStep, scales, seriesPoints, smooth, LineChart } from "../chart.js";

// SERIES are curve.js's.
const SERIES = [
  { key: "loss", label: "loss (left axis)", short: "loss", color: "#1f5fbf", axis: "left" },
  { key: "accuracy", label: "batch accuracy (right axis)", short: "accuracy", color: "#c2410c", axis: "right" },
  { key: "knn", label: "k-NN accuracy (named photos, right axis)", short: "k-NN", color: "#15803d", axis: "right", sparse: true },
];
// BOX is the plot of a 600×300 canvas: {l: 52, r: 600-48, t: 30, b: 300-36}.
const BOX = { l: 52, r: 552, t: 30, b: 264 };

const close = (got, want, what) => assert.ok(Math.abs(got - want) < 1e-9, `${what}: got ${got}, want ${want}`);

test("niceStep: 1, 2, 2.5 or 5 times a power of ten, whole when asked", () => {
  const cases = [
    [10, 5, false, 2],
    [1, 5, false, 0.2],
    [2.3, 5, false, 0.5],
    [0.9, 4, false, 0.25],
    [7, 2, false, 5],
    [1000, 3, false, 500],
    [0.0013, 5, false, 0.0005],
    [300, 6, true, 50],
    [3, 6, true, 1], // 0.5, rounded up to a whole step of 1
    [3, 0, false, 5], // count below 1 counts as 1
  ];
  for (const [range, count, integer, want] of cases) close(niceStep(range, count, integer), want, `niceStep(${range}, ${count}, ${integer})`);
});

test("decimals: the digits a tick spacing needs", () => {
  const cases = [[1, 0], [50, 0], [0.5, 1], [0.25, 2], [0.2, 1], [0.0005, 4], [2.5, 1]];
  for (const [step, want] of cases) assert.equal(decimals(step), want, `decimals(${step})`);
});

test("scales: losses from 0 to a round number above the largest", () => {
  const pts = [{ step: 1, loss: 2.3, accuracy: 0.25 }, { step: 2, loss: 1.7, accuracy: 0.5 }, { step: 3, loss: 1.1, accuracy: 0.75 }];
  const s = scales(pts, SERIES, 100, BOX);
  assert.equal(s.x0, 0, "x starts just before the first step");
  assert.equal(s.x1, 100, "x ends at the run's last step");
  close(s.xs(0), BOX.l, "xs(x0)");
  close(s.xs(100), BOX.r, "xs(x1)");
  close(s.xs(50), (BOX.l + BOX.r) / 2, "xs(middle)");
  // 234 px of height: 5 parts of about 0.46 give a spacing of 0.5.
  assert.equal(s.lstep, 0.5);
  assert.equal(s.lbot, 0);
  assert.equal(s.ltop, 2.5);
  assert.deepEqual(s.leftTicks, [0, 0.5, 1, 1.5, 2, 2.5]);
  close(s.yLeft(0), BOX.b, "yLeft(0)");
  close(s.yLeft(2.5), BOX.t, "yLeft(ltop)");
  close(s.yRight(0), BOX.b, "yRight(0)");
  close(s.yRight(1), BOX.t, "yRight(1)");
  close(s.yRight(0.5), (BOX.t + BOX.b) / 2, "yRight(0.5)");
  assert.equal(s.xstep, 20);
  assert.deepEqual(s.xTicks, [0, 20, 40, 60, 80, 100]);
  // The accuracy is on the right axis: a large one does not stretch the left.
  close(scales([{ step: 1, loss: 0.3, accuracy: 40 }], SERIES, 10, BOX).ltop, 0.3, "ltop");
});

test("scales: a negative loss (SimSiam) puts the left axis below 0", () => {
  const s = scales([{ step: 5, loss: -0.2 }, { step: 6, loss: -0.93 }], SERIES, 10, BOX);
  assert.equal(s.lstep, 0.2);
  close(s.lbot, -1, "lbot");
  assert.equal(s.ltop, 0, "all negative: the top is 0");
  close(s.yLeft(-1), BOX.b, "yLeft(lbot)");
  close(s.yLeft(0), BOX.t, "yLeft(0)");
  assert.deepEqual(s.leftTicks.map((v) => +v.toFixed(6)), [-1, -0.8, -0.6, -0.4, -0.2, 0]);
  assert.equal(s.x0, 4, "x starts just before the first point");
  // Both signs: from below the smallest to above the largest.
  const both = scales([{ step: 1, loss: 0.7 }, { step: 2, loss: -0.35 }], SERIES, 2, BOX);
  assert.equal(both.lstep, 0.25);
  assert.equal(both.lbot, -0.5);
  assert.equal(both.ltop, 0.75);
  for (const p of [0.7, -0.35]) assert.ok(both.yLeft(p) > BOX.t && both.yLeft(p) < BOX.b, `loss ${p} inside the plot`);
});

test("scales: one point, no points, and missing values", () => {
  const one = scales([{ step: 1, loss: 0.8 }], SERIES, 0, BOX);
  assert.equal(one.x0, 0);
  assert.equal(one.x1, 1, "a single step still gets a width");
  assert.ok(Number.isFinite(one.xs(1)) && Number.isFinite(one.yLeft(0.8)));
  assert.ok(one.ltop > 0.8 - 1e-12 && one.lbot === 0);
  const none = scales([], SERIES, 0, BOX);
  assert.deepEqual([none.x0, none.x1, none.lbot, none.ltop], [0, 1, 0, 0.2]);
  assert.ok(none.leftTicks.every(Number.isFinite) && none.xTicks.every(Number.isFinite));
  // A flat zero loss (and NaN, Infinity) leave a usable axis.
  const flat = scales([{ step: 1, loss: 0 }, { step: 2, loss: NaN }, { step: 3, loss: Infinity }], SERIES, 3, BOX);
  assert.ok(flat.ltop > flat.lbot, `range [${flat.lbot}, ${flat.ltop}]`);
  assert.ok(Number.isFinite(flat.yLeft(0)));
  // An imported model resumed at step 1000 of 1200: x from 999.
  const resumed = scales([{ step: 1000, loss: 1 }, { step: 1001, loss: 1 }], SERIES, 1200, BOX);
  assert.deepEqual([resumed.x0, resumed.x1], [999, 1200]);
  assert.ok(resumed.xTicks.every((v) => v >= 999 && v <= 1200 && v % resumed.xstep === 0), `${resumed.xTicks}`);
});

test("smooth: a debiased moving average that skips missing values", () => {
  const out = smooth([1, NaN, 1, 1]);
  assert.equal(out[0], 1, "debiased: the first value is itself");
  assert.ok(Number.isNaN(out[1]));
  close(out[2], 1, "constant stays constant");
  close(out[3], 1, "constant stays constant");
  const [a, b] = smooth([0, 10]);
  assert.equal(a, 0);
  // weight of the past 0.85: (0.15*10 * 1) / (1 - 0.85^2)
  close(b, (0.15 * 10) / (1 - 0.85 * 0.85), "second value");
});

test("the sparse k-NN series: its points only, and in the legend once it has one", () => {
  const knn = SERIES[2];
  const pts = [{ step: 1, loss: 1 }, { step: 2, loss: 0.9, knn: 0.5 }, { step: 3, loss: 0.8, knn: NaN }, { step: 4, loss: 0.7, knn: 0.75 }];
  assert.deepEqual(seriesPoints(pts, knn).map((p) => p.step), [2, 4]);
  assert.equal(seriesPoints(pts, SERIES[0]), pts, "a dense series draws every point");
  assert.deepEqual(legendSeries(SERIES, pts).map((s) => s.key), ["loss", "accuracy", "knn"]);
  assert.deepEqual(legendSeries(SERIES, pts.map(({ knn, ...p }) => p)).map((s) => s.key), ["loss", "accuracy"]);
});

// drawn draws pts on a width×300 chart and returns its context's calls.
function drawn(pts, xMax, width = 600) {
  const doc = installPage();
  const canvas = doc.getElementById("chart");
  canvas.clientWidth = width;
  canvas.clientHeight = 300;
  const chart = new LineChart(canvas, { series: SERIES, emptyText: "No training yet" });
  canvas.context.calls.length = 0;
  chart.update(pts, xMax);
  return canvas.context.calls;
}

test("LineChart draws every value inside the plot, and never a NaN", () => {
  const pts = [];
  for (let step = 1; step <= 60; step++) {
    const p = { step, loss: 1.5 - step / 50, accuracy: step % 7 ? step / 60 : NaN };
    if (step % 20 === 0) p.knn = step / 80;
    pts.push(p);
  }
  const calls = drawn(pts, 100);
  const coords = calls.filter(([name]) => ["moveTo", "lineTo", "arc", "fillText", "rect"].includes(name));
  for (const [name, ...args] of coords) {
    for (const a of args) if (typeof a === "number") assert.ok(Number.isFinite(a), `${name}(${args.join(", ")})`);
  }
  // The three k-NN measures are dots, inside the plot.
  const dots = calls.filter(([name, , , r]) => name === "arc" && r === 3);
  assert.equal(dots.length, 3);
  for (const [, x, y] of dots) assert.ok(x >= BOX.l && x <= BOX.r && y >= BOX.t && y <= BOX.b, `dot at ${x}, ${y}`);
  const s = scales(pts, SERIES, 100, BOX);
  assert.deepEqual(dots.map(([, x, y]) => [x, y]), [20, 40, 60].map((step) => [s.xs(step), s.yRight(step / 80)]));
  // The tick labels: the loss axis from 0, percentages, steps.
  const labels = calls.filter(([name]) => name === "fillText").map(([, text]) => text);
  const want = ["0.0", "0.5", "1.0", "1.5", "0%", "25%", "50%", "75%", "100%", "0", "20", "40", "60", "80", "100", "step", "loss", "accuracy", "k-NN"];
  assert.deepEqual(labels, want, "the ticks and the legend's short labels");
  // A wide chart has room for the long labels.
  const wide = drawn(pts, 100, 1200).filter(([name]) => name === "fillText").map(([, text]) => text);
  assert.deepEqual(wide.slice(-3), SERIES.map((s) => s.label));
});

test("LineChart with no points says so, and with one point draws a dot", () => {
  const empty = drawn([], 0);
  assert.ok(empty.some(([name, text]) => name === "fillText" && text === "No training yet"));
  const one = drawn([{ step: 1, loss: -0.5, accuracy: 0.5 }], 10);
  const dots = one.filter(([name, , , r]) => name === "arc" && r === 3);
  assert.equal(dots.length, 2, "the loss and the accuracy");
  const s = scales([{ step: 1, loss: -0.5 }], SERIES, 10, BOX);
  assert.deepEqual(dots[0].slice(1, 3), [s.xs(1), s.yLeft(-0.5)]);
  assert.ok(!one.some(([name, text]) => name === "fillText" && /k-NN/.test(text)), "no k-NN measure, no k-NN legend");
});
