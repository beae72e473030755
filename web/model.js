// model.js: step 3 of the page, keeping the model: export it as a
// checkpoint or for PyTorch (safetensors), import either back, and restore
// the one a last visit left (sessions.js). An imported or restored model
// becomes the page's as if it had trained here (training.js adoptModel).
import { call } from "./pretext.js";
import { byId, download } from "./dom.js";
import { errorText, plural } from "./format.js";
import { showMessage } from "./messages.js";
import { photoCount, readyText } from "./photos.js";
import { refreshPreviews, showPreviews } from "./previews.js";
import { showSettings, stepsWanted } from "./settings.js";
import { onChange, setPhase } from "./status.js";
import { adoptModel, currentModel, describeModel, idle, saveSessionNow } from "./training.js";

const el = { exportCkpt: byId("export"), exportSafetensors: byId("export-safetensors"), importInput: byId("import") };

export function setUpModel() {
  el.exportCkpt.addEventListener("click", () => exportModel());
  el.exportSafetensors.addEventListener("click", () => exportModel("safetensors"));
  el.importInput.addEventListener("change", () => {
    if (el.importInput.files[0]) importModel(el.importInput.files[0]);
  });
  onChange(() => {
    const ok = idle();
    const m = currentModel();
    el.exportCkpt.disabled = el.exportSafetensors.disabled = !(ok && m && m.step > 0);
    el.importInput.disabled = !ok;
  });
}

// exportModel downloads the model as a checkpoint, or with format
// "safetensors" in the layout the PyTorch twin reads (interop/pytorch).
async function exportModel(format) {
  const m = currentModel();
  const ext = format === "safetensors" ? "safetensors" : "ckpt";
  try {
    const bytes = await call("exportModel", ext === "ckpt" ? undefined : format);
    const name = `pretext-${String(m.task).replace(/[^\w.-]+/g, "_")}-${m.step}.${ext}`;
    download(bytes, name);
    const size = bytes.byteLength < 1024 ? `${bytes.byteLength} bytes` : `${Math.round(bytes.byteLength / 1024)} KB`;
    describeModel(`Exported ${name} (${size}).`);
  } catch (err) {
    describeModel("Export failed: " + errorText(err), true);
    showMessage("Could not export the model: " + errorText(err));
  }
}

async function importModel(file) {
  let info;
  try {
    info = await call("importModel", new Uint8Array(await file.arrayBuffer()));
  } catch (err) {
    describeModel(`Could not import ${file.name}: ${errorText(err)}`, true);
    showMessage(`Could not import ${file.name}: ${errorText(err)}`);
    return;
  } finally {
    el.importInput.value = ""; // the same file may be picked again
  }
  const t = info.train || {};
  const widths = (info.trunk && info.trunk.widths) || [];
  showSettings(info.task, {
    steps: Math.max(info.step, t.steps || 0) || undefined, // else the task's default
    optimizer: t.optimizer,
    lr: t.lr > 0 ? t.lr : undefined,
    width: widths.length && widths[0] > 32 ? "wide" : "rs",
  });
  // The curve shows this model's training from here on.
  adoptModel(info, { steps: stepsWanted(), canResume: true });
  saveSessionNow();
  describeModel(`Loaded ${file.name}: a ${info.task} model trained for ${plural(info.step, "step")}` +
    (t.steps > info.step ? ` of ${t.steps}. Resume carries on.` : ". Raise Steps and press Resume to train it further.") +
    (photoCount() ? "" : " Add photos to see its answers or to train it."));
  setPhase("idle", readyText);
  if (photoCount() > 0) await refreshPreviews(info.step);
  else showPreviews([], 0);
}

// restoreSession loads a session kept by a last visit into the workers and
// the page: its model, settings and curve, ready to resume.
export async function restoreSession(session) {
  let info;
  try {
    info = await call("restoreSession", session.bytes);
  } catch (err) {
    showMessage("Could not restore the saved run: " + errorText(err));
    return;
  }
  const c = session.config || {};
  showSettings(info.task, {
    steps: session.steps, batch: c.batch, lr: c.lr, optimizer: c.optimizer || undefined,
    seed: c.seed, width: c.width || undefined, holdout: c.holdout, previewEvery: c.previewEvery,
  });
  const canResume = info.step < session.steps;
  adoptModel(info, { steps: session.steps, canResume, history: session.history || [] });
  describeModel(`Restored the ${info.task} model at step ${info.step} of ${session.steps}.`);
  setPhase(canResume ? "stopped" : "done", canResume
    ? `Restored at step ${info.step} of ${session.steps}. Resume carries on where it was.`
    : `Restored: the network trained on the ${info.task} puzzle for ${plural(info.step, "step")}.`);
  if (photoCount() > 0) await refreshPreviews(info.step);
}
