// app.js: the Pretext page. All the work happens in worker.js, which runs
// the Go module; this script only sends it calls and shows what comes back
// (protocol: docs/browser.md). Photos are read in the worker, never sent
// anywhere else.
(function () {
  "use strict";

  const $ = (id) => document.getElementById(id);
  const el = {
    version: $("version"), messages: $("messages"),
    dropzone: $("dropzone"), files: $("files"), folder: $("folder"), samples: $("samples"), clear: $("clear"),
    photoCount: $("photo-count"), intakeNote: $("intake-note"), thumbs: $("thumbs"),
    rejectedBox: $("rejected-box"), rejected: $("rejected"), creditsBox: $("credits-box"), credits: $("credits"),
    settings: $("settings"), task: $("task"), taskSummary: $("task-summary"),
    steps: $("steps"), batch: $("batch"), lr: $("lr"), optimizer: $("optimizer"), seed: $("seed"),
    width: $("width"), holdout: $("holdout"), previewEvery: $("preview-every"), workers: $("workers"),
    train: $("train"), stop: $("stop"), resume: $("resume"),
    status: $("status"), progress: $("progress-bar"), stats: $("stats"), result: $("result"), refreshNote: $("refresh-note"), taskConfig: $("task-config"),
    exportButton: $("export"), exportSafetensors: $("export-safetensors"), importInput: $("import"), modelInfo: $("model-info"),
    chart: $("chart"), predictionsNote: $("predictions-note"), predictions: $("predictions"),
    savedBox: $("saved-box"), savedText: $("saved-text"), savedRestore: $("saved-restore"), savedDiscard: $("saved-discard"),
  };

  const CHUNK = 24; // files per addFiles call, so thumbnails appear as a big folder is read
  const SAVE_EVERY = 25; // steps between the sessions a run saves for surviving a reload
  const FALLBACK_DEFAULTS = { steps: 300, batch: 32, lr: 0.001, optimizer: "adam" };
  // Captions of a preview's images per task, in the order shown.
  const CAPTIONS = {
    rotation: [["original", "original"], ["input", "what the network saw"], ["image", "turned upright by the network"]],
    jigsaw: [["original", "original"], ["input", "shuffled tiles"], ["image", "solved"]],
    colorization: [["input", "grey input"], ["image", "colourised"], ["original", "original"]],
    "relative-position": [["original", "original"], ["input", "centre and neighbour patch"], ["image", "neighbour placed where predicted"]],
    "jigsaw-positions": [["original", "original"], ["input", "shuffled tiles"], ["image", "tiles placed by the prediction"]],
    inpainting: [["original", "original"], ["input", "masked input"], ["image", "inpainted"]],
    "super-resolution": [["original", "original"], ["input", "low-resolution input (pixel-doubled)"], ["image", "super-resolved"]],
    exemplar: [["original", "original"], ["input", "seed patch and transformed views"], ["image", "seed and the predicted class's seed"]],
    "keypoint-clusters": [["input", "keypoints (red: predicted)"], ["image", "patches in its cluster"]],
    deepcluster: [["input", "photo"], ["image", "photos in its cluster"]],
    sela: [["input", "photo"], ["image", "photos in its cluster"]],
    simclr: [["input", "query (the centre crop the trunk sees)"], ["image", "the photo, then its nearest photos"]],
    other: [["original", "original"], ["input", "what the network saw"], ["image", "the network's output"]],
  };

  const state = {
    phase: "loading", // the status line's data-state
    phaseText: "",
    ready: false,
    fatal: "", // set once the module cannot run
    tasks: [],
    photoCount: 0,
    adding: false, // photos are being read
    training: false,
    stopping: false,
    runTask: "", // task of the current or last run
    last: null, // the last step event
    total: 0, // the run's last step
    model: null, // {task, step} of the model in the worker, if any
    resumable: false, // after a stop or an import
    heldOut: null, // photos held back in the last run (null: unknown)
    previewTask: "",
    lastPreviewStep: -1,
    lrOptimizer: "sgd", // the optimizer whose default the lr field was filled with
    defaultsTask: "", // the task whose defaults fill the form
    runWorkers: 1, // workers of the current or last run
  };

  const history = []; // {step, loss, accuracy} per step; cleared in place
  const page = { history, lastResult: null, previews: [], call };
  window.pretextPage = page; // for tests, read only

  // ---- The workers and their RPC --------------------------------------

  // The team (team.js) is the page's Web Workers: photo and model calls go
  // to all of them, questions to the first, and training runs on the
  // number of workers the form asks for, as one data-parallel group.
  let team = null;
  const rejecters = new Set();

  // call sends one call to the workers; its Promise settles with the answer.
  function call(method, ...args) {
    if (state.fatal) return Promise.reject(new Error(state.fatal));
    if (!team) return Promise.reject(new Error("the Pretext workers are not running"));
    return settleOnFatal(team.call(method, ...args));
  }

  // runOn trains (or benches) on the first n workers, starting any missing.
  async function runOn(method, args, n) {
    if (state.fatal) throw new Error(state.fatal);
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

  function startWorker() {
    try {
      team = new window.PretextTeam.Team((msg) => {
        if (msg.event === "ready") onReady(msg);
        else if (msg.event === "progress") onProgress(msg.data);
        else if (msg.event === "fatal") {
          team.fail(msg.error);
          if (msg.script && state.ready) showMessage(`Worker ${msg.rank + 1} reported an error: ${msg.error}`);
          else fatal(msg.error || "unknown error");
        }
      });
      team.grow(1).catch(() => {}); // failures arrive as fatal events
    } catch (err) {
      fatal("the worker could not start: " + errorText(err));
      return;
    }
  }

  // workersWanted is the form's number of workers (1 if it is not valid).
  function workersWanted() {
    const n = Number(el.workers.value);
    return Number.isInteger(n) && n >= 1 ? Math.min(n, window.PretextTeam.MAX_WORKERS) : 1;
  }

  function onReady(msg) {
    state.ready = true;
    state.tasks = Array.isArray(msg.tasks) ? msg.tasks : [];
    el.version.textContent = msg.version || "";
    el.task.replaceChildren(...state.tasks.map((t) => new Option(t.name, t.name)));
    if (state.tasks.some((t) => t.name === "rotation")) el.task.value = "rotation"; // the main job
    if (!state.tasks.length) showMessage("The Pretext module offers no tasks.");
    applyTaskDefaults();
    setPhase("idle");
    offerSaved();
  }

  function fatal(text) {
    if (state.fatal) return;
    state.fatal = text;
    state.training = state.adding = false;
    for (const reject of rejecters) reject(new Error(text));
    rejecters.clear();
    el.version.textContent = "not running";
    showMessage(sentence("Pretext cannot run: " + text) + " Reloading the page may help.", "fatal");
    setPhase("error", "Pretext cannot run: " + text);
  }

  // ---- Status and controls --------------------------------------------

  function setPhase(phase, text) {
    state.phase = phase;
    state.phaseText = text || "";
    renderStatus();
    updateControls();
  }

  function renderStatus() {
    el.status.dataset.state = state.phase;
    el.status.textContent = statusText();
  }

  function statusText() {
    switch (state.phase) {
      case "loading":
        return "Loading the Pretext module…";
      case "idle":
        return state.photoCount
          ? `Ready: ${plural(state.photoCount, "photo")} to learn from. Choose a puzzle and press Train.`
          : "Ready. Add some photos (or use the sample photos) to start.";
      case "training":
        if (state.stopping) return "Stopping after the current step…";
        return `Training the network on the ${state.runTask} puzzle. The page stays usable meanwhile.`;
      default:
        return state.phaseText;
    }
  }

  function updateControls() {
    const idle = state.ready && !state.fatal && !state.training;
    const canAdd = state.ready && !state.fatal && !state.adding; // photos may be added while training
    el.files.disabled = el.folder.disabled = el.samples.disabled = !canAdd;
    el.dropzone.dataset.disabled = String(!canAdd);
    el.clear.disabled = !canAdd || state.photoCount === 0;
    el.settings.disabled = !idle;
    el.train.disabled = !idle || state.adding || state.photoCount === 0;
    el.stop.disabled = !state.training || state.stopping;
    const m = state.model;
    el.resume.disabled = !(idle && !state.adding && state.photoCount > 0 && state.resumable && m &&
      m.task === el.task.value && m.step < Number(el.steps.value));
    el.exportButton.disabled = !(idle && m && m.step > 0);
    el.exportSafetensors.disabled = el.exportButton.disabled;
    el.importInput.disabled = !idle;
  }

  // ---- Messages ---------------------------------------------------------

  // showMessage shows text in the message area: kind "error" (dismissible),
  // "info" (dismissible) or "fatal" (stays).
  function showMessage(text, kind = "error") {
    const box = document.createElement("div");
    box.className = "message " + kind;
    box.setAttribute("role", kind === "info" ? "status" : "alert");
    const p = document.createElement("p");
    p.textContent = text;
    box.append(p);
    if (kind !== "fatal") {
      const close = document.createElement("button");
      close.type = "button";
      close.className = "dismiss";
      close.textContent = "Dismiss";
      close.setAttribute("aria-label", "Dismiss this message");
      close.addEventListener("click", () => box.remove());
      box.append(close);
    }
    el.messages.append(box);
    while (el.messages.children.length > 6) el.messages.firstElementChild.remove();
  }

  function errorText(err) {
    return err && err.message ? err.message : String(err);
  }

  window.addEventListener("unhandledrejection", (e) => showMessage("Something went wrong: " + errorText(e.reason)));
  window.addEventListener("error", (e) => showMessage("Something went wrong: " + (e.message || "unknown error")));

  // ---- Formatting -------------------------------------------------------

  // sentence capitalises text and ends it with a full stop if it has none.
  function sentence(text) {
    text = String(text).trim();
    return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
  }
  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }
  function pct(x) {
    return Number.isFinite(x) ? (x * 100).toFixed(1) + "%" : "–"; // accuracies are fractions
  }
  function num(x, digits = 3) {
    return Number.isFinite(x) ? x.toFixed(digits) : "–";
  }
  function duration(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) return "–";
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  }

  // imageCanvas draws an {width, height, data} image on a new canvas.
  function imageCanvas(img, label) {
    const c = document.createElement("canvas");
    c.setAttribute("role", "img");
    if (label) {
      c.title = label;
      c.setAttribute("aria-label", label);
    }
    if (!img || !(img.width > 0) || !(img.height > 0)) return c;
    c.width = img.width;
    c.height = img.height;
    if (Math.max(img.width, img.height) <= 64) c.classList.add("pixelated");
    try {
      const d = img.data;
      const data = d instanceof Uint8ClampedArray ? d
        : ArrayBuffer.isView(d) ? new Uint8ClampedArray(d.buffer, d.byteOffset, d.byteLength)
        : Uint8ClampedArray.from(d || []);
      c.getContext("2d").putImageData(new ImageData(data, img.width, img.height), 0, 0);
    } catch (err) {
      c.classList.add("broken");
      c.title = (label ? label + ": " : "") + "could not be drawn (" + errorText(err) + ")";
    }
    return c;
  }

  // ---- Photos -------------------------------------------------------------

  const isHidden = (name) => name.split("/").some((part) => part.startsWith("."));

  // intake runs one photo operation at a time, keeping the controls honest.
  async function intake(note, work) {
    if (state.adding) return;
    state.adding = true;
    el.intakeNote.textContent = note;
    updateControls();
    try {
      await work();
    } catch (err) {
      showMessage("Could not add the photos: " + errorText(err));
      el.intakeNote.textContent = "";
    } finally {
      state.adding = false;
      updateControls();
    }
  }

  // addPhotos adds File objects (or {name, blob} of kept photos, with keep
  // false) to the workers.
  function addPhotos(files, extraRejected = [], keep = true) {
    files = files.filter((f) => !isHidden(f.webkitRelativePath || f.name));
    extraRejected.forEach(addRejected);
    if (!files.length) {
      el.intakeNote.textContent = "";
      if (!extraRejected.length) showMessage("There were no files to add.", "info");
      return;
    }
    return intake(`Reading ${plural(files.length, "file")}…`, async () => {
      let added = 0;
      let skipped = extraRejected.length;
      for (let i = 0; i < files.length; i += CHUNK) {
        const chunk = files.slice(i, i + CHUNK);
        const res = await call("addFiles", chunk, photoLimits());
        if (keep) keepPhotos(chunk, res.added || []);
        added += (res.added || []).length;
        skipped += (res.rejected || []).length;
        applyIntake(res);
        if (i + CHUNK < files.length) el.intakeNote.textContent = `Reading files… ${i + CHUNK} of ${files.length}`;
      }
      el.intakeNote.textContent = `Added ${plural(added, "photo")}` + (skipped ? `; ${skipped} skipped (see below).` : ".");
    });
  }

  // photoLimits reads the photo limits of the form; an empty (or not
  // valid) field is 0, the default.
  function photoLimits() {
    const num = (id) => {
      const v = Number($(id).value);
      return $(id).value !== "" && Number.isFinite(v) && v > 0 ? v : 0;
    };
    return { maxPhotos: Math.floor(num("max-photos")), maxMegapixels: num("max-megapixels"), maxMegabytes: Math.floor(num("max-memory")) };
  }

  function addSamples() {
    return intake("Loading the sample photos…", async () => {
      const res = await call("addSamples");
      applyIntake(res);
      if (store) store.setSamples().catch(storageFailed);
      if (res.credits) {
        el.credits.textContent = res.credits;
        el.creditsBox.hidden = false;
      }
      el.intakeNote.textContent = `Added ${plural((res.added || []).length, "sample photo")}.`;
    });
  }

  async function clearPhotos() {
    try {
      const res = await call("clearImages");
      if (store) store.clearPhotos().catch(storageFailed);
      el.thumbs.replaceChildren();
      el.rejected.replaceChildren();
      el.rejectedBox.hidden = el.creditsBox.hidden = true;
      el.intakeNote.textContent = "";
      setPhotoCount(res && Number.isFinite(res.count) ? res.count : 0);
    } catch (err) {
      showMessage("Could not clear the photos: " + errorText(err));
    }
  }

  function applyIntake(res) {
    for (const p of res.added || []) {
      const c = imageCanvas(p.thumb, p.name);
      c.classList.add("thumb");
      el.thumbs.append(c);
    }
    (res.rejected || []).forEach(addRejected);
    setPhotoCount(Number.isFinite(res.count) ? res.count : state.photoCount + (res.added || []).length);
  }

  function addRejected(r) {
    const li = document.createElement("li");
    const name = document.createElement("strong");
    name.textContent = r.name;
    li.append(name, ": " + r.reason);
    el.rejected.append(li);
    el.rejectedBox.hidden = false;
  }

  function setPhotoCount(n) {
    state.photoCount = n;
    el.photoCount.textContent = `${plural(n, "photo")} loaded`;
    if (state.phase === "error" && !state.fatal) state.phase = "idle"; // a fixed problem clears the error
    renderStatus();
    updateControls();
  }

  // filesFromDrop collects the files of a drop, recursing into folders.
  // The items must be read before the first await: the list is emptied
  // once the drop event returns.
  async function filesFromDrop(dt) {
    const entries = [];
    const files = [];
    for (const item of Array.from(dt.items || [])) {
      if (item.kind !== "file") continue;
      const entry = item.webkitGetAsEntry ? item.webkitGetAsEntry() : null;
      const file = entry ? null : item.getAsFile();
      if (entry) entries.push(entry);
      else if (file) files.push(file);
    }
    if (!entries.length && !files.length) return { files: Array.from(dt.files || []), rejected: [] };
    const rejected = [];
    for (const entry of entries) await collectEntry(entry, files, rejected);
    return { files, rejected };
  }

  async function collectEntry(entry, files, rejected) {
    if (entry.name.startsWith(".")) return; // .DS_Store, .git and friends
    if (entry.isFile) {
      try {
        const f = await new Promise((resolve, reject) => entry.file(resolve, reject));
        // Name it by its path in the drop, as the folder picker does.
        const path = (entry.fullPath || "").replace(/^\//, "");
        files.push(path && path !== f.name ? new File([f], path, { type: f.type, lastModified: f.lastModified }) : f);
      } catch (err) {
        rejected.push({ name: entry.fullPath || entry.name, reason: "could not be read: " + errorText(err) });
      }
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      // readEntries answers in batches (about 100 in Chrome) until it returns none.
      for (;;) {
        const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
        if (!batch.length) break;
        for (const child of batch) await collectEntry(child, files, rejected);
      }
    }
  }

  function setUpDropzone() {
    const zone = el.dropzone;
    const over = (e) => {
      e.preventDefault();
      const ok = zone.dataset.disabled !== "true";
      e.dataTransfer.dropEffect = ok ? "copy" : "none";
      zone.classList.toggle("dragging", ok);
    };
    zone.addEventListener("dragenter", over);
    zone.addEventListener("dragover", over);
    zone.addEventListener("dragleave", (e) => {
      if (!zone.contains(e.relatedTarget)) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", async (e) => {
      e.preventDefault();
      zone.classList.remove("dragging");
      if (zone.dataset.disabled === "true") {
        showMessage("Please wait: photos can be added once the current ones are read.", "info");
        return;
      }
      el.intakeNote.textContent = "Looking through what was dropped…";
      try {
        const { files, rejected } = await filesFromDrop(e.dataTransfer);
        await addPhotos(files, rejected);
      } catch (err) {
        el.intakeNote.textContent = "";
        showMessage("Could not read what was dropped: " + errorText(err));
      }
    });
    // A drop that misses the zone must not make the browser open the file.
    window.addEventListener("dragover", (e) => e.preventDefault());
    window.addEventListener("drop", (e) => e.preventDefault());
  }

  // ---- Task and settings -------------------------------------------------

  const currentTask = () => state.tasks.find((t) => t.name === el.task.value) || null;

  function defaults() {
    const t = currentTask();
    return Object.assign({}, FALLBACK_DEFAULTS, (t && t.defaults) || {});
  }

  // defaultLr is the task's rate for its own optimizer, else the optimizer's
  // usual default.
  function defaultLr(optimizer) {
    const d = defaults();
    if (optimizer === d.optimizer) return d.lr;
    return optimizer === "adam" ? 0.001 : 0.05;
  }

  function setOptimizer(name) {
    if (name && ![...el.optimizer.options].some((o) => o.value === name)) el.optimizer.append(new Option(name, name));
    if (name) el.optimizer.value = name;
  }

  function applyTaskDefaults() {
    const t = currentTask();
    const d = defaults();
    state.defaultsTask = el.task.value;
    el.taskSummary.textContent = t
      ? sentence(t.summary || t.name) + (t.inputSize ? ` The network sees ${t.inputSize}×${t.inputSize} pixel crops.` : "")
      : "";
    el.steps.value = d.steps;
    el.batch.value = d.batch;
    setOptimizer(d.optimizer);
    el.lr.value = String(defaultLr(el.optimizer.value));
    state.lrOptimizer = el.optimizer.value;
  }

  function onOptimizerChange() {
    // Keep a rate the person typed; swap a default for the new optimizer's.
    if (Math.abs(Number(el.lr.value) - defaultLr(state.lrOptimizer)) < 1e-12) el.lr.value = String(defaultLr(el.optimizer.value));
    state.lrOptimizer = el.optimizer.value;
  }

  // readConfig returns train's config from the form, or null (and, unless
  // quiet, says why).
  function readConfig(quiet) {
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
    let taskConfig;
    const text = el.taskConfig.value.trim();
    if (text) {
      try {
        taskConfig = JSON.parse(text);
      } catch (err) {
        if (quiet) return null;
        showMessage(`Please check “Task settings”: it is not valid JSON (${err.message}).`);
        el.taskConfig.closest("details").open = true;
        el.taskConfig.focus();
        return null;
      }
      if (taskConfig === null || typeof taskConfig !== "object" || Array.isArray(taskConfig)) {
        if (quiet) return null;
        showMessage("Please check “Task settings”: write a JSON object such as {\"size\": 48}.");
        el.taskConfig.closest("details").open = true;
        el.taskConfig.focus();
        return null;
      }
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

  // ---- Training ---------------------------------------------------------

  async function train(resume) {
    const config = readConfig();
    if (!config) return;
    config.resume = resume;
    if (resume) config.task = state.model.task;
    else {
      // A new model replaces the old one as the run starts.
      history.length = 0;
      state.model = null;
      state.lastPreviewStep = -1;
      // With fewer than two photos (or no fraction) nothing is held back, and
      // previews show training photos; otherwise the result will tell.
      state.heldOut = state.photoCount < 2 || config.holdout === 0 ? 0 : null;
      showPreviews([], 0);
    }
    Object.assign(state, { training: true, stopping: false, runTask: config.task, previewTask: config.task, last: null, total: config.steps });
    el.result.textContent = "";
    if (!resume) el.refreshNote.textContent = "";
    renderStats(null);
    setPhase("training");
    scheduleRender();
    let res;
    try {
      // A resumed run keeps the workers it started with: the others may
      // hold another model.
      if (!resume) state.runWorkers = workersWanted();
      config.saveEvery = store ? SAVE_EVERY : 0;
      res = await runOn("train", [config], state.runWorkers);
    } catch (err) {
      state.training = false;
      if (state.fatal) return;
      showMessage("Training failed: " + errorText(err));
      setPhase("error", "Training failed: " + errorText(err));
      await syncModel();
      return;
    }
    page.lastResult = res;
    Object.assign(state, { training: false, stopping: false, model: { task: res.task, step: res.step }, resumable: !!res.stopped, total: res.steps || state.total });
    state.heldOut = res.heldOut ? res.heldOut.photos : null;
    showResult(res);
    showModelInfo(`The model in this tab: ${res.task}, trained for ${plural(res.step, "step")}.`);
    setPhase(res.stopped ? "stopped" : "done", res.stopped
      ? `Stopped at step ${res.step} of ${res.steps}. Resume to carry on, or export the model.`
      : `Done: the network trained on the ${res.task} puzzle for ${plural(res.step, "step")}.`);
    scheduleRender();
    if (state.lastPreviewStep !== res.step && state.photoCount > 0) await refreshPreviews();
  }

  // syncModel asks the worker which model it holds after a failed run.
  async function syncModel() {
    try {
      const s = await call("status");
      state.model = s && s.task && s.step > 0 ? { task: s.task, step: s.step } : null;
    } catch (err) {
      // The failure was already reported; keep what we knew.
    }
    updateControls();
  }

  async function stop() {
    state.stopping = true;
    renderStatus();
    updateControls();
    try {
      await call("stop");
    } catch (err) {
      state.stopping = false;
      showMessage("Could not stop the training: " + errorText(err));
      renderStatus();
      updateControls();
    }
  }

  function onProgress(data) {
    if (!data) return;
    if (data.type === "step") {
      state.last = data;
      state.total = data.steps || state.total;
      state.model = { task: state.runTask, step: data.step };
      history.push({ step: data.step, loss: data.loss, accuracy: data.accuracy });
      scheduleRender();
    } else if (data.type === "warning") {
      showMessage(data.message, "info");
    } else if (data.type === "refresh") {
      // A clustering task relabelled the photos (new pseudo-labels).
      el.refreshNote.textContent = `Step ${data.step}: ${data.message}`;
    } else if (data.type === "diverged") {
      // A step went NaN: Go undid it and lowered the rate; training goes on.
      showMessage(`Training became unstable: ${data.message}.`, "info");
    } else if (data.type === "preview") {
      state.lastPreviewStep = data.step;
      showPreviews(data.items || [], data.step);
    } else if (data.type === "session") {
      if (data.session) keepSession(data.session, data.step, data.steps);
      else if (data.message) showMessage(sentence(data.message));
    }
  }

  // Chart and numbers are redrawn at most once a frame, however fast the steps come.
  let frame = 0;
  function scheduleRender() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      chart.update(history, state.total);
      renderStats(state.last);
    });
  }

  function renderStats(st) {
    const set = (key, text) => (el.stats.querySelector(`[data-stat="${key}"]`).textContent = text);
    set("step", st ? `${st.step} / ${st.steps}` : "–");
    set("loss", st ? num(st.loss) : "–");
    set("accuracy", st ? pct(st.accuracy) : "–");
    set("speed", st && Number.isFinite(st.imagesPerSec) ? `${Math.round(st.imagesPerSec)} images/s` : "–");
    set("elapsed", st ? duration(st.elapsed) : "–");
    set("eta", st ? (state.training ? duration(st.eta) : "0:00") : "–");
    el.progress.max = Math.max(1, st ? st.steps : state.total || 1);
    el.progress.value = st ? st.step : state.model ? state.model.step : 0;
  }

  function showResult(res) {
    const parts = [`Last batches: loss ${num(res.loss)}, accuracy ${pct(res.accuracy)}, ${Math.round(res.imagesPerSec || 0)} images/s.`];
    const h = res.heldOut;
    if (h && h.photos > 0) {
      parts.push(`On ${plural(h.photos, "held-back photo")} the network never trained on: accuracy ${pct(h.accuracy)}, ` +
        `loss ${num(h.loss)} (a blind guess scores ${num(h.baselineLoss)}; lower is better).`);
    } else {
      parts.push("No photos were held back, so there is no held-out score; add more photos for one.");
    }
    el.result.textContent = parts.join(" ");
  }

  // ---- Previews -----------------------------------------------------------

  async function refreshPreviews() {
    try {
      showPreviews(await call("previews"), state.model ? state.model.step : 0);
    } catch (err) {
      showMessage("Could not show the network's answers: " + errorText(err));
    }
  }

  function showPreviews(items, step) {
    page.previews = items;
    const captions = CAPTIONS[state.previewTask] || CAPTIONS.other;
    const cards = items.map((item) => predictionCard(item, captions));
    el.predictions.replaceChildren(...cards);
    if (!items.length) {
      el.predictionsNote.textContent = "While the network trains, its answers on photos it never trains on appear here.";
    } else {
      const when = step ? ` after step ${step}` : "";
      el.predictionsNote.textContent = state.heldOut === 0
        ? `No photos were held back, so these are training photos: the ${state.previewTask} network${when}.`
        : `The ${state.previewTask} network${when}, on ${plural(items.length, "held-back photo")} it never trains on.`;
    }
  }

  function predictionCard(item, captions) {
    const card = document.createElement("article");
    card.className = "prediction";
    card.dataset.name = item.name;
    card.dataset.probs = JSON.stringify(ArrayBuffer.isView(item.probs) ? Array.from(item.probs) : item.probs) || "[]";
    const title = document.createElement("h3");
    title.textContent = title.title = item.name;
    const panels = document.createElement("div");
    panels.className = "panels";
    for (const [key, caption] of captions) {
      if (!item[key]) continue; // input may be null
      const fig = document.createElement("figure");
      const cap = document.createElement("figcaption");
      cap.textContent = caption;
      fig.append(imageCanvas(item[key], `${item.name}: ${caption}`), cap);
      panels.append(fig);
    }
    const summary = document.createElement("p");
    summary.className = "summary";
    summary.textContent = item.summary || "";
    card.append(title, panels, summary);
    return card;
  }

  // ---- Model export and import ----------------------------------------------

  function showModelInfo(text, isError) {
    el.modelInfo.textContent = text;
    el.modelInfo.classList.toggle("error", !!isError);
  }

  // exportModel downloads the model as a checkpoint, or with format
  // "safetensors" in the layout the PyTorch twin reads (interop/pytorch).
  async function exportModel(format) {
    const m = state.model;
    const ext = format === "safetensors" ? "safetensors" : "ckpt";
    try {
      const bytes = await call("exportModel", ext === "ckpt" ? undefined : format);
      const name = `pretext-${String(m.task).replace(/[^\w.-]+/g, "_")}-${m.step}.${ext}`;
      const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = name;
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000); // long after the download has started
      const size = bytes.byteLength < 1024 ? `${bytes.byteLength} bytes` : `${Math.round(bytes.byteLength / 1024)} KB`;
      showModelInfo(`Exported ${name} (${size}).`);
    } catch (err) {
      showModelInfo("Export failed: " + errorText(err), true);
      showMessage("Could not export the model: " + errorText(err));
    }
  }

  async function importModel(file) {
    let info;
    try {
      info = await call("importModel", new Uint8Array(await file.arrayBuffer()));
    } catch (err) {
      showModelInfo(`Could not import ${file.name}: ${errorText(err)}`, true);
      showMessage(`Could not import ${file.name}: ${errorText(err)}`);
      return;
    } finally {
      el.importInput.value = ""; // the same file may be picked again
    }
    state.runWorkers = workersWanted(); // every worker holds the imported model
    Object.assign(state, { model: { task: info.task, step: info.step }, resumable: true, runTask: info.task, previewTask: info.task, last: null, heldOut: null });
    history.length = 0; // the chart shows this model's training from here on
    if (state.tasks.some((t) => t.name === info.task)) {
      el.task.value = info.task;
      applyTaskDefaults();
    }
    const t = info.train || {};
    el.steps.value = Math.max(info.step, t.steps || 0) || defaults().steps;
    setOptimizer(t.optimizer);
    if (t.lr > 0) el.lr.value = String(t.lr);
    state.lrOptimizer = el.optimizer.value;
    const widths = (info.trunk && info.trunk.widths) || [];
    el.width.value = widths.length && widths[0] > 32 ? "wide" : "rs";
    state.total = Number(el.steps.value);
    scheduleRender();
    saveSessionNow();
    showModelInfo(`Loaded ${file.name}: a ${info.task} model trained for ${plural(info.step, "step")}` +
      (t.steps > info.step ? ` of ${t.steps}. Resume carries on.` : ". Raise Steps and press Resume to train it further.") +
      (state.photoCount ? "" : " Add photos to see its answers or to train it."));
    setPhase("idle");
    if (state.photoCount > 0) await refreshPreviews();
    else showPreviews([], 0);
  }

  // ---- Surviving a reload (store.js) -----------------------------------------

  // The photos added, whether the samples were, and the latest session
  // (model, optimizer state, step, settings, chart) are kept in this
  // browser's IndexedDB; after a reload the page offers them back.
  let store = null;

  function storageFailed(err) {
    showMessage("This browser could not keep the work for after a reload: " + errorText(err) +
      ". Training goes on; export the model to keep it.", "info");
  }

  // keepPhotos stores the files of a chunk that the workers accepted.
  function keepPhotos(files, added) {
    if (!store) return;
    const names = new Set(added.map((p) => p.name));
    const kept = files.filter((f) => names.has(f.webkitRelativePath || f.name))
      .map((f) => ({ name: f.webkitRelativePath || f.name, blob: f }));
    if (kept.length) store.addPhotos(kept).catch(storageFailed);
  }

  // keepSession stores a session the run reported, with the chart so far.
  function keepSession(bytes, step, steps) {
    if (!store) return;
    const config = readConfig(true) || {};
    config.task = state.runTask || config.task;
    store.putSession({ bytes, task: config.task, step, steps: steps || state.total, config, history: history.slice(), savedAt: Date.now() })
      .then(() => (page.savedStep = step), storageFailed);
  }

  // saveSessionNow stores the workers' current model (after an import).
  async function saveSessionNow() {
    if (!store || !state.model) return;
    try {
      keepSession(await call("saveSession"), state.model.step, state.total);
    } catch (err) {
      storageFailed(err);
    }
  }

  // offerSaved shows what a previous visit left, if anything.
  async function offerSaved() {
    store = await window.PretextStore.open();
    page.store = store;
    if (!store) return;
    let session, photos, samples;
    try {
      [session, photos, samples] = await Promise.all([store.session(), store.photos(), store.samples()]);
    } catch (err) {
      storageFailed(err);
      return;
    }
    const parts = [];
    if (photos.length) parts.push(`your ${plural(photos.length, "photo")}`);
    if (samples) parts.push("the sample photos");
    if (session) parts.push(`the ${session.task} model at step ${session.step} of ${session.steps} (saved ${new Date(session.savedAt).toLocaleString()})`);
    if (!parts.length) return;
    el.savedText.textContent = `From your last visit, this browser kept ${parts.join(" and ")}. Restore them, or discard them from this browser's storage.`;
    el.savedBox.hidden = false;
    el.savedRestore.onclick = () => restoreSaved(session, photos, samples);
  }

  async function restoreSaved(session, photos, samples) {
    el.savedBox.hidden = true;
    if (samples) await addSamples();
    if (photos.length) await addPhotos(photos, [], false);
    if (!session) return;
    let info;
    try {
      info = await call("restoreSession", session.bytes);
    } catch (err) {
      showMessage("Could not restore the saved run: " + errorText(err));
      return;
    }
    const c = session.config || {};
    if (state.tasks.some((t) => t.name === info.task)) {
      el.task.value = info.task;
      applyTaskDefaults();
    }
    for (const [input, v] of [[el.batch, c.batch], [el.lr, c.lr], [el.seed, c.seed], [el.holdout, c.holdout], [el.previewEvery, c.previewEvery]]) {
      if (v !== undefined && v !== null) input.value = String(v);
    }
    if (c.optimizer) setOptimizer(c.optimizer);
    if (c.width) el.width.value = c.width;
    el.steps.value = String(session.steps);
    history.splice(0, history.length, ...(session.history || []));
    state.runWorkers = workersWanted(); // every worker holds the restored model
    Object.assign(state, {
      model: { task: info.task, step: info.step }, resumable: info.step < session.steps, runTask: info.task,
      previewTask: info.task, last: null, heldOut: null, total: session.steps,
    });
    scheduleRender();
    showModelInfo(`Restored the ${info.task} model at step ${info.step} of ${session.steps}.`);
    setPhase(info.step < session.steps ? "stopped" : "done", info.step < session.steps
      ? `Restored at step ${info.step} of ${session.steps}. Resume carries on where it was.`
      : `Restored: the network trained on the ${info.task} puzzle for ${plural(info.step, "step")}.`);
    if (state.photoCount > 0) await refreshPreviews();
  }

  async function discardSaved() {
    el.savedBox.hidden = true;
    if (store) await store.clear().then(() => (page.discarded = true), storageFailed);
  }

  // ---- Wiring -----------------------------------------------------------

  const chart = new window.PretextChart(el.chart, {
    series: [
      { key: "loss", label: "loss (left axis)", short: "loss", color: "#1f5fbf", axis: "left" },
      { key: "accuracy", label: "batch accuracy (right axis)", short: "accuracy", color: "#c2410c", axis: "right" },
    ],
    emptyText: "No training yet",
  });

  el.files.addEventListener("change", () => {
    const files = Array.from(el.files.files);
    el.files.value = "";
    addPhotos(files);
  });
  el.folder.addEventListener("change", () => {
    const files = Array.from(el.folder.files);
    el.folder.value = "";
    addPhotos(files);
  });
  el.samples.addEventListener("click", addSamples);
  el.clear.addEventListener("click", clearPhotos);
  el.task.addEventListener("change", () => {
    // Only a different task refills the form; settings typed for this one stay.
    if (el.task.value !== state.defaultsTask) applyTaskDefaults();
    updateControls();
  });
  el.optimizer.addEventListener("change", onOptimizerChange);
  el.steps.addEventListener("input", updateControls);
  el.train.addEventListener("click", () => train(false));
  el.resume.addEventListener("click", () => train(true));
  el.stop.addEventListener("click", stop);
  el.exportButton.addEventListener("click", () => exportModel());
  el.exportSafetensors.addEventListener("click", () => exportModel("safetensors"));
  el.savedDiscard.addEventListener("click", discardSaved);
  el.importInput.addEventListener("change", () => {
    if (el.importInput.files[0]) importModel(el.importInput.files[0]);
  });
  window.addEventListener("beforeunload", (e) => {
    if (!state.training) return;
    e.preventDefault(); // training would be lost
    e.returnValue = "";
  });

  el.workers.max = String(window.PretextTeam.MAX_WORKERS);
  el.workers.value = String(window.PretextTeam.defaultWorkers());
  setUpDropzone();
  renderStatus();
  updateControls();
  startWorker();
})();
