// curve.test.mjs: the training curve's bookkeeping (curve.js): a point per
// step, k-NN measures joined to the point of their step, a curve restored
// from a session, and what the note under the chart says.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { installPage } from "./fakedom.mjs";

const doc = installPage();
const curve = await import("../curve.js");

beforeEach(() => curve.restartCurve());

test("addPoint keeps a point per step, and points is a copy", () => {
  curve.addPoint({ step: 1, loss: 2.5, accuracy: 0.25, extra: "dropped" });
  curve.addPoint({ step: 2, loss: 2.25, accuracy: 0.5 });
  const pts = curve.points();
  assert.deepEqual(pts, [{ step: 1, loss: 2.5, accuracy: 0.25 }, { step: 2, loss: 2.25, accuracy: 0.5 }]);
  pts.pop();
  assert.equal(curve.points().length, 2, "changing the copy leaves the curve");
});

test("addKNN joins a measure to the last point of its step", () => {
  curve.addPoint({ step: 9, loss: 1, accuracy: 0.5 });
  curve.addPoint({ step: 10, loss: 0.9, accuracy: 0.6 });
  curve.addPoint({ step: 11, loss: 0.8, accuracy: 0.7 });
  curve.addKNN({ step: 10, accuracy: 0.625, images: 8, k: 3, seconds: 0.4 });
  assert.deepEqual(curve.points(), [
    { step: 9, loss: 1, accuracy: 0.5 },
    { step: 10, loss: 0.9, accuracy: 0.6, knn: 0.625, knnImages: 8, knnK: 3, knnSeconds: 0.4 },
    { step: 11, loss: 0.8, accuracy: 0.7 },
  ]);
  // A resumed run repeats a step: the measure goes on the later point.
  curve.restartCurve([{ step: 5, loss: 1 }, { step: 5, loss: 0.5 }]);
  curve.addKNN({ step: 5, accuracy: 1, images: 4, k: 1, seconds: 0.1 });
  const [first, second] = curve.points();
  assert.equal(first.knn, undefined);
  assert.equal(second.knn, 1);
  // A measure of a step without a point (the last step of an imported model) makes one.
  curve.addKNN({ step: 7, accuracy: 0.5, images: 4, k: 1, seconds: 0.1 });
  assert.deepEqual(curve.points().at(-1), { step: 7, knn: 0.5, knnImages: 4, knnK: 1, knnSeconds: 0.1 });
});

test("restartCurve takes a session's points, or none", () => {
  const kept = [{ step: 1, loss: 1, accuracy: 0 }, { step: 2, loss: 0.5, accuracy: 1, knn: 0.75, knnImages: 4, knnK: 2, knnSeconds: 1 }];
  curve.addPoint({ step: 1, loss: 9, accuracy: 0 });
  curve.restartCurve(kept);
  assert.deepEqual(curve.points(), kept);
  curve.restartCurve();
  assert.deepEqual(curve.points(), []);
});

test("knnText names the last measure, in singular or plural", () => {
  const pts = [
    { step: 10, knn: 0.5, knnImages: 8, knnK: 3 },
    { step: 20, loss: 1 },
    { step: 30, knn: 0.625, knnImages: 8, knnK: 3 },
    { step: 40, knn: NaN },
  ];
  assert.equal(curve.knnText(pts, "hint"),
    "k-NN accuracy at step 30: 62.5% on 8 named photos, each classified by a vote of its 3 nearest neighbours among the others (green, right axis).");
  assert.equal(curve.knnText([{ step: 3, knn: 1, knnImages: 1, knnK: 1 }], "hint"),
    "k-NN accuracy at step 3: 100.0% on 1 named photo, each classified by a vote of its 1 nearest neighbour among the others (green, right axis).");
  assert.equal(curve.knnText([{ step: 1, loss: 1 }], "hint"), "hint");
});

test("drawCurve draws the points and writes the note", () => {
  const canvas = doc.getElementById("chart");
  canvas.clientWidth = 600;
  canvas.clientHeight = 300;
  const note = doc.getElementById("knn-note");
  curve.noteKNN("Name photos in step 4.");
  curve.addPoint({ step: 1, loss: 1, accuracy: 0.5 });
  canvas.context.calls.length = 0;
  curve.drawCurve(50);
  assert.equal(note.textContent, "Name photos in step 4.");
  const labels = canvas.context.calls.filter(([name]) => name === "fillText").map(([, text]) => text);
  assert.ok(labels.includes("50"), `the x axis ends at the run's last step: ${JSON.stringify(labels)}`);
  curve.addKNN({ step: 1, accuracy: 0.25, images: 4, k: 2, seconds: 0.1 });
  curve.drawCurve(50);
  assert.match(note.textContent, /^k-NN accuracy at step 1: 25\.0% on 4 named photos/);
  curve.restartCurve();
  curve.drawCurve(50);
  assert.equal(note.textContent, "", "a new curve forgets the note");
});
