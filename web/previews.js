// previews.js: the network at work on held-back photos (#predictions): a
// card per photo with the images the task's captions name (the task's
// registry entry, through pretext.tasks()), in their order, and the
// network's answer.
import { call } from "./pretext.js";
import { byId, imageCanvas } from "./dom.js";
import { errorText, plural } from "./format.js";
import { showMessage } from "./messages.js";
import { taskInfo } from "./settings.js";

const el = { note: byId("predictions-note"), list: byId("predictions") };
const EMPTY = "While the network trains, its answers on photos it never trains on appear here.";

let task = ""; // the task of the model whose previews are shown
let heldOut = null; // photos held back in its run (null: unknown)

// previewsOf says whose previews come next: the model of modelTask,
// trained with heldBack photos held back (0: none, so the previews show
// training photos; null: not known; left out: as before).
export function previewsOf(modelTask, heldBack) {
  task = modelTask;
  if (heldBack !== undefined) heldOut = heldBack;
}

// refreshPreviews asks the workers for the previews of their model at step.
export async function refreshPreviews(step) {
  try {
    showPreviews(await call("previews"), step);
  } catch (err) {
    showMessage("Could not show the network's answers: " + errorText(err));
  }
}

// showPreviews shows the previews (none: the note alone) of step.
export function showPreviews(items, step) {
  const t = taskInfo(task);
  const captions = t ? t.captions : []; // every task the module runs is in its list
  el.list.replaceChildren(...items.map((item) => predictionCard(item, captions)));
  if (!items.length) {
    el.note.textContent = EMPTY;
  } else {
    const when = step ? ` after step ${step}` : "";
    el.note.textContent = heldOut === 0
      ? `No photos were held back, so these are training photos: the ${task} network${when}.`
      : `The ${task} network${when}, on ${plural(items.length, "held-back photo")} it never trains on.`;
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
  for (const { image, text } of captions) {
    if (!item[image]) continue; // input may be null
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    cap.textContent = text;
    fig.append(imageCanvas(item[image], `${item.name}: ${text}`), cap);
    panels.append(fig);
  }
  const summary = document.createElement("p");
  summary.className = "summary";
  summary.textContent = item.summary || "";
  card.append(title, panels, summary);
  return card;
}
