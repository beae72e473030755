// settings.test.mjs: the training settings form (settings.js): the task
// menu's defaults, the rate that follows the optimizer, and what
// readConfig accepts and what it says about a setting out of range, on
// index.html's own fields (fakedom.mjs checks their min, max and step).
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { installPage, messages } from "./fakedom.mjs";

const doc = installPage({ cores: 6 });
const settings = await import("../settings.js");
const byId = (id) => doc.getElementById(id);

// TASKS is what the module's tasks() gives, in its shape (tasks.Info).
const TASKS = [
  { name: "jigsaw", summary: "solve a 3x3 jigsaw puzzle", defaults: { steps: 200, batch: 32, lr: 0.05, optimizer: "sgd", config: { permutations: 30 } }, inputSize: 64 },
  { name: "rotation", summary: "predict how a photo was rotated", defaults: { steps: 300, batch: 64, lr: 0.1, optimizer: "sgd" }, inputSize: 48 },
  { name: "simclr", summary: "tell two views of a photo apart from the others!", defaults: { steps: 500, batch: 128, lr: 0.002, optimizer: "adam" } },
];

// DEFAULTS is the config of the form as the page first shows it with TASKS:
// rotation's defaults and index.html's values.
const DEFAULTS = {
  task: "rotation", steps: 300, batch: 64, lr: 0.1, optimizer: "sgd",
  seed: 1, width: "rs", holdout: 0.1, previewEvery: 10, config: undefined,
};

settings.setUpSettings();
const afterSetUp = { max: byId("workers").max, value: byId("workers").value };

beforeEach(() => {
  settings.offerTasks(TASKS);
  for (const [id, v] of [["seed", "1"], ["holdout", "0.1"], ["preview-every", "10"], ["workers", "1"], ["task-config", ""], ["width", "rs"]]) byId(id).value = v;
  for (const d of [byId("seed").details, byId("task-config").details]) d.open = false;
  byId("messages").replaceChildren();
  doc.activeElement = null;
});

test("the form starts with rotation's defaults, and readConfig accepts them", () => {
  assert.equal(byId("task").value, "rotation");
  assert.deepEqual(byId("task").options.map((o) => o.value), ["jigsaw", "rotation", "simclr"]);
  assert.equal(byId("task-summary").textContent, "Predict how a photo was rotated. The network sees 48×48 pixel crops.");
  assert.deepEqual(settings.readConfig(false), DEFAULTS);
  assert.deepEqual(messages(), []);
});

test("setUpSettings offers one worker per core, at most 4, of at most 8", () => {
  // installPage gave the page 6 cores.
  assert.deepEqual(afterSetUp, { max: "8", value: "4" });
});

test("a setting out of range is refused with the page's message, and its field shown", async (t) => {
  const cases = [
    { id: "steps", value: "0", want: "Please check “Steps”: Value must be greater than or equal to 1." },
    { id: "steps", value: "2000000", want: "Please check “Steps”: Value must be less than or equal to 1000000." },
    { id: "steps", value: "1.5", want: "Please check “Steps”: Please enter a valid value. The two nearest valid values are 1 and 2." },
    { id: "batch", value: "5000", want: "Please check “Batch size”: Value must be less than or equal to 4096." },
    { id: "batch", value: "", want: "Please check “Batch size”: Please fill out this field." },
    // min="0" lets 0 through the browser; the page refuses a rate of 0 itself.
    { id: "lr", value: "0", want: "Please check “Learning rate”: it must be a positive number." },
    { id: "lr", value: "-0.1", want: "Please check “Learning rate”: Value must be greater than or equal to 0." },
    { id: "seed", value: "-1", want: "Please check “Random seed”: Value must be greater than or equal to 0.", details: true },
    { id: "holdout", value: "0.95", want: "Please check “Held-back fraction”: Value must be less than or equal to 0.9.", details: true },
    { id: "preview-every", value: "0", want: "Please check “Preview every N steps”: Value must be greater than or equal to 1.", details: true },
    { id: "workers", value: "9", want: "Please check “Workers (CPU cores to train on)”: Value must be less than or equal to 8.", details: true },
    { id: "task-config", value: "[1, 2]", want: "Please check “Task settings”: write a JSON object such as {\"size\": 48}.", details: true },
    { id: "task-config", value: "null", want: "Please check “Task settings”: write a JSON object such as {\"size\": 48}.", details: true },
    { id: "task-config", value: "{size: 48}", want: /^Please check “Task settings”: it is not valid JSON \(.+\)\.$/, details: true },
  ];
  for (const c of cases) {
    await t.test(`${c.id}=${JSON.stringify(c.value)}`, () => {
      const field = byId(c.id);
      const was = field.value;
      field.value = c.value;
      try {
        assert.equal(settings.readConfig(true), null, "quiet readConfig");
        assert.deepEqual(messages(), [], "quiet readConfig says nothing");
        assert.equal(settings.readConfig(false), null);
        const said = messages();
        assert.equal(said.length, 1, `messages: ${JSON.stringify(said)}`);
        if (c.want instanceof RegExp) assert.match(said[0], c.want);
        else assert.equal(said[0], c.want);
        assert.equal(doc.activeElement, field, "the field has the focus");
        if (c.details) assert.equal(field.details.open, true, "the Advanced section is opened");
      } finally {
        field.value = was;
        byId("messages").replaceChildren();
      }
    });
  }
});

test("the first field out of range is the one named", () => {
  byId("batch").value = "0";
  byId("holdout").value = "2";
  assert.equal(settings.readConfig(false), null);
  assert.deepEqual(messages(), ["Please check “Batch size”: Value must be greater than or equal to 1."]);
});

test("a task settings object goes into the config", () => {
  byId("task-config").value = '  {"size": 48, "tasks": [{"name": "rotation"}]} ';
  assert.deepEqual(settings.readConfig(false), { ...DEFAULTS, config: { size: 48, tasks: [{ name: "rotation" }] } });
});

test("parseTaskConfig", () => {
  const object = "Please check “Task settings”: write a JSON object such as {\"size\": 48}.";
  const cases = [
    ["", { config: undefined }],
    ["   ", { config: undefined }],
    ['{"k": 3}', { config: { k: 3 } }],
    ["{}", { config: {} }],
    ["[]", { problem: object }],
    ['"text"', { problem: object }],
    ["12", { problem: object }],
    ["null", { problem: object }],
  ];
  for (const [text, want] of cases) assert.deepEqual(settings.parseTaskConfig(text), want, JSON.stringify(text));
  assert.match(settings.parseTaskConfig("{").problem, /^Please check “Task settings”: it is not valid JSON \(.+\)\.$/);
});

test("rateFor: the task's rate for its optimizer, else the optimizer's default", () => {
  const [jigsaw, , simclr] = TASKS;
  assert.equal(settings.rateFor(jigsaw, "sgd"), 0.05);
  assert.equal(settings.rateFor(jigsaw, "adam"), 0.001);
  assert.equal(settings.rateFor(simclr, "adam"), 0.002);
  assert.equal(settings.rateFor(simclr, "sgd"), 0.05);
  assert.equal(settings.rateFor(null, "adam"), 0.001);
  assert.equal(settings.rateFor(null, "sgd"), 0.05);
});

test("the rate follows the optimizer unless one was typed", () => {
  const lr = byId("lr");
  const optimizer = byId("optimizer");
  assert.equal(lr.value, "0.1");
  optimizer.value = "adam";
  optimizer.dispatch("change");
  assert.equal(lr.value, "0.001", "rotation's rate is for SGD: Adam's default replaces it");
  optimizer.value = "sgd";
  optimizer.dispatch("change");
  assert.equal(lr.value, "0.1", "back to rotation's own rate");
  lr.value = "0.3";
  optimizer.value = "adam";
  optimizer.dispatch("change");
  assert.equal(lr.value, "0.3", "a typed rate stays");
});

test("choosing another task refills the form; the same task keeps what was typed", () => {
  const task = byId("task");
  byId("steps").value = "77";
  task.dispatch("change"); // still rotation
  assert.equal(byId("steps").value, "77");
  task.value = "simclr";
  task.dispatch("change");
  assert.equal(byId("steps").value, "500");
  assert.equal(byId("batch").value, "128");
  assert.equal(byId("optimizer").value, "adam");
  assert.equal(byId("lr").value, "0.002");
  assert.equal(byId("task-summary").textContent, "Tell two views of a photo apart from the others!");
  task.value = "jigsaw";
  task.dispatch("change");
  assert.equal(byId("task-config").placeholder, 'empty: {"permutations":30}');
  assert.equal(byId("optimizer").value, "sgd");
  assert.deepEqual(settings.readConfig(false), { ...DEFAULTS, task: "jigsaw", steps: 200, batch: 32, lr: 0.05 });
});

test("workerCount: a whole number from 1 to 8, else 1", () => {
  const cases = [["1", 1], ["3", 3], ["8", 8], ["9", 8], ["100", 8], ["0", 1], ["-2", 1], ["2.5", 1], ["", 1], ["two", 1]];
  for (const [value, want] of cases) assert.equal(settings.workerCount(value), want, JSON.stringify(value));
  byId("workers").value = "5";
  assert.equal(settings.workersWanted(), 5);
});

test("showSettings puts a model's settings in the form", () => {
  settings.showSettings("simclr", { steps: 900, seed: 7, holdout: 0.2, optimizer: "lamb", previewEvery: null });
  assert.equal(byId("task").value, "simclr");
  assert.equal(byId("steps").value, "900");
  assert.equal(byId("batch").value, "128", "simclr's default, not given");
  assert.equal(byId("seed").value, "7");
  assert.equal(byId("holdout").value, "0.2");
  assert.equal(byId("preview-every").value, "10", "null leaves the field");
  assert.equal(byId("optimizer").value, "lamb", "an optimizer the menu lacks is added");
  assert.equal(settings.chosenTask(), "simclr");
  assert.equal(settings.stepsWanted(), 900);
});

test("a module without tasks says so", () => {
  settings.offerTasks(undefined);
  assert.deepEqual(messages(), ["The Pretext module offers no tasks."]);
  assert.equal(byId("task").options.length, 0);
  assert.equal(byId("task-summary").textContent, "");
  assert.equal(settings.taskInfo("rotation"), null);
});
