// settings.js: the training settings form (#settings): the task menu,
// filled with the module's tasks, each with its summary and training
// defaults (pretext.tasks()), and the settings a run is trained with.
import { MAX_WORKERS, defaultWorkers } from "./team.js";
import { byId } from "./dom.js";
import { sentence } from "./format.js";
import { showMessage } from "./messages.js";
import { changed } from "./status.js";

const el = {
  settings: byId("settings"), task: byId("task"), taskSummary: byId("task-summary"),
  steps: byId("steps"), batch: byId("batch"), lr: byId("lr"), optimizer: byId("optimizer"), seed: byId("seed"),
  width: byId("width"), holdout: byId("holdout"), previewEvery: byId("preview-every"), workers: byId("workers"),
  taskConfig: byId("task-config"),
};

let tasks = []; // the module's tasks: {name, summary, defaults, captions, inputSize, needs}
let defaultsTask = ""; // the task whose defaults fill the form
let lrOptimizer = "sgd"; // the optimizer whose default rate the lr field was filled with

export function setUpSettings() {
  el.workers.max = String(MAX_WORKERS);
  el.workers.value = String(defaultWorkers());
  el.task.addEventListener("change", () => {
    // Only a different task refills the form; settings typed for this one stay.
    if (el.task.value !== defaultsTask) applyTaskDefaults();
    changed();
  });
  el.optimizer.addEventListener("change", () => {
    // Keep a rate the person typed; swap a default for the new optimizer's.
    if (Math.abs(Number(el.lr.value) - defaultLr(lrOptimizer)) < 1e-12) el.lr.value = String(defaultLr(el.optimizer.value));
    lrOptimizer = el.optimizer.value;
  });
  el.steps.addEventListener("input", changed);
}

// offerTasks fills the task menu with the module's tasks, rotation first
// chosen, and the form with its defaults.
export function offerTasks(list) {
  tasks = Array.isArray(list) ? list : [];
  el.task.replaceChildren(...tasks.map((t) => new Option(t.name, t.name)));
  if (taskInfo("rotation")) el.task.value = "rotation"; // the main job
  if (!tasks.length) showMessage("The Pretext module offers no tasks.");
  applyTaskDefaults();
}

// taskInfo is the module's description of the task name, or null.
export function taskInfo(name) {
  return tasks.find((t) => t.name === name) || null;
}

// chosenTask is the task the form names.
export function chosenTask() {
  return el.task.value;
}

// stepsWanted is the form's number of steps.
export function stepsWanted() {
  return Number(el.steps.value);
}

// workersWanted is the form's number of workers (1 if it is not valid).
export function workersWanted() {
  return workerCount(el.workers.value);
}

// workerCount is the number of workers a workers field's value asks for:
// a whole number from 1 to MAX_WORKERS, else 1.
export function workerCount(value) {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_WORKERS) : 1;
}

// lockSettings disables the form (while a run trains) or enables it.
export function lockSettings(locked) {
  el.settings.disabled = locked;
}

// defaultLr is the form's task's default rate for optimizer (rateFor).
function defaultLr(optimizer) {
  return rateFor(taskInfo(el.task.value), optimizer);
}

// rateFor is task's rate for its own optimizer, else (another optimizer,
// or no task) the optimizer's usual default (core.TrainerConfig's: 0.05
// for SGD, 0.001 for Adam). task is the module's description, or null.
export function rateFor(task, optimizer) {
  if (task && optimizer === task.defaults.optimizer) return task.defaults.lr;
  return optimizer === "adam" ? 0.001 : 0.05;
}

function setOptimizer(name) {
  if (name && ![...el.optimizer.options].some((o) => o.value === name)) el.optimizer.append(new Option(name, name));
  if (name) el.optimizer.value = name;
}

// configPlaceholder is the task settings field's placeholder for a task
// whose default run has no settings of its own.
const configPlaceholder = el.taskConfig.placeholder;

// applyTaskDefaults fills the form with the chosen task's summary and
// training defaults.
function applyTaskDefaults() {
  const t = taskInfo(el.task.value);
  defaultsTask = el.task.value;
  el.taskSummary.textContent = t
    ? sentence(t.summary || t.name) + (t.inputSize ? ` The network sees ${t.inputSize}×${t.inputSize} pixel crops.` : "")
    : "";
  if (!t) return;
  el.steps.value = t.defaults.steps;
  el.batch.value = t.defaults.batch;
  setOptimizer(t.defaults.optimizer);
  el.lr.value = String(defaultLr(el.optimizer.value));
  lrOptimizer = el.optimizer.value;
  // An empty field runs the task's default settings; show them.
  el.taskConfig.placeholder = t.defaults.config ? "empty: " + JSON.stringify(t.defaults.config) : configPlaceholder;
}

// showSettings puts a model's task in the form, with its defaults, then
// the settings it was trained with (an imported or restored model): each
// of values' steps, batch, lr, optimizer, seed, width, holdout and
// previewEvery that is given.
export function showSettings(task, values) {
  if (taskInfo(task)) {
    el.task.value = task;
    applyTaskDefaults();
  }
  const fields = { steps: el.steps, batch: el.batch, lr: el.lr, seed: el.seed, width: el.width, holdout: el.holdout, previewEvery: el.previewEvery };
  for (const [key, input] of Object.entries(fields)) {
    const v = values[key];
    if (v !== undefined && v !== null) input.value = String(v);
  }
  setOptimizer(values.optimizer);
  lrOptimizer = el.optimizer.value;
}

// readConfig returns train's config from the form, or null (and, unless
// quiet, says why).
export function readConfig(quiet) {
  for (const input of [el.steps, el.batch, el.lr, el.seed, el.holdout, el.previewEvery, el.workers]) {
    if (!input.checkValidity() || (input === el.lr && !(Number(input.value) > 0))) {
      if (quiet) return null;
      const label = input.labels && input.labels[0] ? input.labels[0].textContent : input.id;
      showMessage(`Please check “${label}”: ${input.validationMessage || "it must be a positive number."}`);
      if (input.closest("details")) input.closest("details").open = true;
      input.focus();
      return null;
    }
  }
  const { config: taskConfig, problem } = parseTaskConfig(el.taskConfig.value);
  if (problem) {
    if (quiet) return null;
    showMessage(problem);
    el.taskConfig.closest("details").open = true;
    el.taskConfig.focus();
    return null;
  }
  return {
    task: el.task.value,
    steps: Number(el.steps.value),
    batch: Number(el.batch.value),
    lr: Number(el.lr.value),
    optimizer: el.optimizer.value,
    seed: Number(el.seed.value),
    width: el.width.value,
    holdout: Number(el.holdout.value),
    previewEvery: Number(el.previewEvery.value),
    config: taskConfig,
  };
}

// parseTaskConfig reads the task settings field's text: {config}, the
// JSON object it holds (undefined when the field is empty: the task's
// defaults), or {problem}, what the page says when it is not an object.
export function parseTaskConfig(text) {
  text = String(text).trim();
  if (!text) return { config: undefined };
  let config;
  try {
    config = JSON.parse(text);
  } catch (err) {
    return { problem: `Please check “Task settings”: it is not valid JSON (${err.message}).` };
  }
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    return { problem: "Please check “Task settings”: write a JSON object such as {\"size\": 48}." };
  }
  return { config };
}
