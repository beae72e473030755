// app.js: the Pretext page, the one script index.html loads. All the work
// happens in the workers, which run the Go module (worker.js, by
// pretext.js); the page only sends them calls and shows what comes back
// (protocol: docs/browser.md). Photos are read in the workers, never sent
// anywhere else. This module starts the page's parts, each of which owns
// its controls and its state:
//
//	photos.js    step 1: adding photos
//	settings.js  the task and its settings
//	training.js  step 2: training, its progress and result, the model it makes
//	curve.js     the training curve (chart.js)
//	previews.js  the network's answers on held-back photos
//	model.js     step 3: export and import, restoring a saved model
//	explore.js   step 4: similar photos, the map, groups and labels
//	sessions.js  what is kept for after a reload (store.js)
//	status.js    the status line, and the signal that controls follow
//	messages.js  the message area
import { call, start } from "./pretext.js";
import { points } from "./curve.js";
import { byId } from "./dom.js";
import { errorText, sentence } from "./format.js";
import { showMessage } from "./messages.js";
import { namedLabels, setUpExplore } from "./explore.js";
import { restoreSession, setUpModel } from "./model.js";
import { addPhotos, addSamples, readyText, setUpPhotos } from "./photos.js";
import { lastSaved, offerSaved, wasDiscarded } from "./sessions.js";
import { offerTasks, setUpSettings } from "./settings.js";
import { changed, setPhase } from "./status.js";
import { lastResult, onProgress, setUpTraining } from "./training.js";

const version = byId("version");

window.addEventListener("unhandledrejection", (e) => showMessage("Something went wrong: " + errorText(e.reason)));
window.addEventListener("error", (e) => showMessage("Something went wrong: " + (e.message || "unknown error")));

// page is a read-only view of the page for the browser test, which imports
// this module for it (web/browser_test.go); nothing on the page reads it.
export const page = Object.freeze({
  get history() {
    return points();
  },
  get lastResult() {
    return lastResult();
  },
  get savedStep() {
    return lastSaved();
  },
  get discarded() {
    return wasDiscarded();
  },
  call,
});

function onReady(msg) {
  version.textContent = msg.version || "";
  offerTasks(msg.tasks);
  setPhase("idle", readyText);
  offerSaved(restore);
}

function onFatal(text) {
  version.textContent = "not running";
  showMessage(sentence("Pretext cannot run: " + text) + " Reloading the page may help.", "fatal");
  setPhase("error", "Pretext cannot run: " + text);
}

// restore brings back what a last visit kept: its photos, then its model.
async function restore({ session, photos, samples }) {
  if (samples) await addSamples();
  if (photos.length) await addPhotos(photos, [], false);
  if (session) await restoreSession(session);
}

setUpPhotos();
setUpSettings();
setUpTraining({ labels: namedLabels });
setUpModel();
setUpExplore();
changed();
start({ onReady, onProgress, onFatal });
