// sessions.js: surviving a reload. The photos added, whether the samples
// were, and the latest session (model, optimizer state, step, settings,
// chart) are kept in this browser's IndexedDB (store.js); after a reload
// the page offers them back (#saved-box), to restore or to discard.
import { open } from "./store.js";
import { byId } from "./dom.js";
import { errorText, plural } from "./format.js";
import { showMessage } from "./messages.js";

const el = { box: byId("saved-box"), text: byId("saved-text"), restore: byId("saved-restore"), discard: byId("saved-discard") };

let store = null; // the Store, once open; null where the browser keeps nothing
let savedStep = -1; // the step of the last session stored
let discarded = false; // the person discarded what a last visit left

// keeping reports whether this browser keeps the work for after a reload.
export function keeping() {
  return store !== null;
}

// lastSaved is the step of the last session stored, or -1 (for the test).
export function lastSaved() {
  return savedStep;
}

// wasDiscarded reports whether what a last visit left was discarded (for
// the test).
export function wasDiscarded() {
  return discarded;
}

// storageFailed tells the person that storing failed; nothing else does.
export function storageFailed(err) {
  showMessage("This browser could not keep the work for after a reload: " + errorText(err) +
    ". Training goes on; export the model to keep it.", "info");
}

// keepPhotos stores the files of a chunk that the workers accepted.
export function keepPhotos(files, added) {
  if (!store) return;
  const names = new Set(added.map((p) => p.name));
  const kept = files.filter((f) => names.has(f.webkitRelativePath || f.name))
    .map((f) => ({ name: f.webkitRelativePath || f.name, blob: f }));
  if (kept.length) store.addPhotos(kept).catch(storageFailed);
}

// keepSamples stores that the sample photos were added.
export function keepSamples() {
  if (store) store.setSamples().catch(storageFailed);
}

// forgetPhotos forgets the photos and the samples.
export function forgetPhotos() {
  if (store) store.clearPhotos().catch(storageFailed);
}

// keepSession stores a session: {bytes, task, step, steps, config,
// history, savedAt}.
export function keepSession(session) {
  if (!store) return;
  store.putSession(session).then(() => (savedStep = session.step), storageFailed);
}

// offerSaved opens the storage and shows what a previous visit left, if
// anything; Restore hands it to restore({session, photos, samples}).
export async function offerSaved(restore) {
  store = await open();
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
  el.text.textContent = `From your last visit, this browser kept ${parts.join(" and ")}. Restore them, or discard them from this browser's storage.`;
  el.box.hidden = false;
  el.restore.onclick = () => {
    el.box.hidden = true;
    restore({ session, photos, samples });
  };
  el.discard.onclick = async () => {
    el.box.hidden = true;
    await store.clear().then(() => (discarded = true), storageFailed);
  };
}
