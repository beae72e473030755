// training.js: step 2 of the page, training: Train, Stop and Resume, the
// run's progress (its numbers, bar and curve) and result, and the model a
// run leaves in the workers, which model.js exports and imports and
// sessions.js keeps for after a reload. A run is given the labels named
// in step 4 and reports its k-NN accuracy on them ("knn" events, drawn on
// the curve).
import { call, failed, isReady, runOn } from "./pretext.js";
import { addKNN, addPoint, drawCurve, noteKNN, points, restartCurve } from "./curve.js";
import { byId } from "./dom.js";
import { duration, errorText, num, pct, plural, sentence } from "./format.js";
import { showMessage } from "./messages.js";
import { addingPhotos, photoCount } from "./photos.js";
import { previewsOf, refreshPreviews, showPreviews } from "./previews.js";
import { keepSession, keeping, storageFailed } from "./sessions.js";
import { chosenTask, lockSettings, readConfig, stepsWanted, workersWanted } from "./settings.js";
import { changed, onChange, setPhase } from "./status.js";

const SAVE_EVERY = 25; // steps between the sessions a run saves for surviving a reload
const KNN_HINT = "Name photos in step 4 (two photos of two labels at least) and train again: the curve then shows how well the network's features tell them apart.";

const el = {
  train: byId("train"), stop: byId("stop"), resume: byId("resume"),
  progress: byId("progress-bar"), stats: byId("stats"), result: byId("result"), refreshNote: byId("refresh-note"),
  modelInfo: byId("model-info"),
};

let training = false;
let stopping = false;
let runTask = ""; // task of the current or last run
let last = null; // the run's last step event
let total = 0; // the run's last step
let result = null; // the last run's result
let previewedStep = -1; // the step of the run's last preview
let model = null; // {task, step} of the model in the workers, if any
let resumable = false; // after a stop, an import or a restore
let holders = 1; // the workers holding the model: those of its run
let namedLabels = () => []; // the labels named in step 4: [{id, label}]

// idle reports whether the page may start a run or load a model.
export function idle() {
  return isReady() && !failed() && !training;
}

export function isTraining() {
  return training;
}

// currentModel is {task, step} of the model in the workers, or null.
export function currentModel() {
  return model && { ...model };
}

// lastResult is the last run's result (for the test).
export function lastResult() {
  return result;
}

// setUpTraining wires the controls; labels returns the labels named in
// step 4 ([{id, label}], explore.js), which every run is given.
export function setUpTraining({ labels } = {}) {
  if (labels) namedLabels = labels;
  el.train.addEventListener("click", () => train(false));
  el.resume.addEventListener("click", () => train(true));
  el.stop.addEventListener("click", stop);
  window.addEventListener("beforeunload", (e) => {
    if (!training) return;
    e.preventDefault(); // training would be lost
    e.returnValue = "";
  });
  onChange(() => {
    const ok = idle();
    lockSettings(!ok);
    el.train.disabled = !ok || addingPhotos() || photoCount() === 0;
    el.stop.disabled = !training || stopping;
    el.resume.disabled = !(ok && !addingPhotos() && photoCount() > 0 && resumable && model &&
      model.task === chosenTask() && model.step < stepsWanted());
  });
}

// describeModel says what the model in this tab is (#model-info).
export function describeModel(text, isError) {
  el.modelInfo.textContent = text;
  el.modelInfo.classList.toggle("error", !!isError);
}

// adoptModel makes a model the workers just loaded (imported or restored)
// the page's: every worker holds it, it trains on to steps, resumable
// says whether Resume may carry it on, and history is its curve so far.
export function adoptModel(info, { steps, canResume, history = [] }) {
  holders = workersWanted();
  model = { task: info.task, step: info.step };
  resumable = canResume;
  runTask = info.task;
  last = null;
  total = steps;
  restartCurve(history);
  previewsOf(info.task, null);
  scheduleRender();
}

// saveSessionNow stores the workers' current model (after an import).
export async function saveSessionNow() {
  if (!keeping() || !model) return;
  try {
    keep(await call("saveSession"), model.step, total);
  } catch (err) {
    storageFailed(err);
  }
}

// keep stores a session of the model, with the form's settings and the
// curve so far.
function keep(bytes, step, steps) {
  if (!keeping()) return;
  const config = readConfig(true) || {};
  config.task = runTask || config.task;
  keepSession({ bytes, task: config.task, step, steps: steps || total, config, history: points(), savedAt: Date.now() });
}

function trainingText() {
  if (stopping) return "Stopping after the current step…";
  return `Training the network on the ${runTask} puzzle. The page stays usable meanwhile.`;
}

async function train(resume) {
  const config = readConfig();
  if (!config) return;
  config.resume = resume;
  if (resume) {
    config.task = model.task;
    previewsOf(config.task);
  } else {
    // A new model replaces the old one as the run starts.
    restartCurve();
    model = null;
    previewedStep = -1;
    showPreviews([], 0);
    // With fewer than two photos (or no fraction) nothing is held back, and
    // previews show training photos; otherwise the result will tell.
    previewsOf(config.task, photoCount() < 2 || config.holdout === 0 ? 0 : null);
  }
  config.labels = namedLabels();
  noteKNN(config.labels.length ? "" : KNN_HINT);
  training = true;
  stopping = false;
  runTask = config.task;
  last = null;
  total = config.steps;
  el.result.textContent = "";
  if (!resume) el.refreshNote.textContent = "";
  renderStats(null);
  setPhase("training", trainingText);
  scheduleRender();
  let res;
  try {
    // A resumed run keeps the workers it started with: the others may
    // hold another model.
    if (!resume) holders = workersWanted();
    config.saveEvery = keeping() ? SAVE_EVERY : 0;
    res = await runOn("train", [config], holders);
  } catch (err) {
    training = false;
    if (failed()) {
      changed(); // the page already says why
      return;
    }
    showMessage("Training failed: " + errorText(err));
    setPhase("error", "Training failed: " + errorText(err));
    await syncModel();
    return;
  }
  result = res;
  training = stopping = false;
  model = { task: res.task, step: res.step };
  resumable = !!res.stopped;
  total = res.steps || total;
  previewsOf(runTask, res.heldOut ? res.heldOut.photos : null);
  showResult(res);
  describeModel(`The model in this tab: ${res.task}, trained for ${plural(res.step, "step")}.`);
  setPhase(res.stopped ? "stopped" : "done", res.stopped
    ? `Stopped at step ${res.step} of ${res.steps}. Resume to carry on, or export the model.`
    : `Done: the network trained on the ${res.task} puzzle for ${plural(res.step, "step")}.`);
  scheduleRender();
  if (previewedStep !== res.step && photoCount() > 0) await refreshPreviews(model.step);
}

// syncModel asks the worker which model it holds after a failed run.
async function syncModel() {
  try {
    const s = await call("status");
    model = s && s.task && s.step > 0 ? { task: s.task, step: s.step } : null;
  } catch (err) {
    // The failure was already reported; keep what we knew.
  }
  changed();
}

async function stop() {
  stopping = true;
  changed();
  try {
    await call("stop");
  } catch (err) {
    stopping = false;
    showMessage("Could not stop the training: " + errorText(err));
    changed();
  }
}

// onProgress takes an event of the running train call (docs/browser.md).
export function onProgress(data) {
  if (!data) return;
  if (data.type === "step") {
    last = data;
    total = data.steps || total;
    model = { task: runTask, step: data.step };
    addPoint(data);
    scheduleRender();
  } else if (data.type === "warning") {
    showMessage(data.message, "info");
  } else if (data.type === "refresh") {
    // A clustering task relabelled the photos (new pseudo-labels).
    el.refreshNote.textContent = `Step ${data.step}: ${data.message}`;
  } else if (data.type === "diverged") {
    // A step went NaN: Go undid it and lowered the rate; training goes on.
    showMessage(`Training became unstable: ${data.message}.`, "info");
  } else if (data.type === "knn") {
    // The k-NN accuracy on the named photos, or why there is none.
    if (data.message) noteKNN(sentence(data.message));
    else addKNN(data);
    scheduleRender();
  } else if (data.type === "preview") {
    previewedStep = data.step;
    showPreviews(data.items || [], data.step);
  } else if (data.type === "session") {
    if (data.session) keep(data.session, data.step, data.steps);
    else if (data.message) showMessage(sentence(data.message));
  }
}

// The curve and the numbers are redrawn at most once a frame, however fast
// the steps come.
let frame = 0;
function scheduleRender() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    drawCurve(total);
    renderStats(last);
  });
}

function renderStats(st) {
  const set = (key, text) => (el.stats.querySelector(`[data-stat="${key}"]`).textContent = text);
  set("step", st ? `${st.step} / ${st.steps}` : "–");
  set("loss", st ? num(st.loss) : "–");
  set("accuracy", st ? pct(st.accuracy) : "–");
  set("speed", st && Number.isFinite(st.imagesPerSec) ? `${Math.round(st.imagesPerSec)} images/s` : "–");
  set("elapsed", st ? duration(st.elapsed) : "–");
  set("eta", st ? (training ? duration(st.eta) : "0:00") : "–");
  el.progress.max = Math.max(1, st ? st.steps : total || 1);
  el.progress.value = st ? st.step : model ? model.step : 0;
}

function showResult(res) {
  const parts = [`Last batches: loss ${num(res.loss)}, accuracy ${pct(res.accuracy)}, ${Math.round(res.imagesPerSec || 0)} images/s.`];
  const h = res.heldOut;
  if (h && h.photos > 0) {
    // SimSiam has no blind guess to compare with (its collapse is its
    // loss's minimum); its measure says whether it learned.
    const blind = h.baselineLoss > 0 ? ` (a blind guess scores ${num(h.baselineLoss)}; lower is better)` : "";
    parts.push(`On ${plural(h.photos, "held-back photo")} the network never trained on: accuracy ${pct(h.accuracy)}, ` +
      `loss ${num(h.loss)}${blind}.`);
    const m = h.measure;
    if (m) parts.push(`${m.name}: ${num(m.value)} ${m.unit} (${m.baselineName}: ${num(m.baseline)} ${m.unit}; higher is better).`);
  } else {
    parts.push("No photos were held back, so there is no held-out score; add more photos for one.");
  }
  el.result.textContent = parts.join(" ");
}
