// photos.js: step 1 of the page, adding photos: the file and folder
// pickers, drag and drop, the sample photos, the thumbnails, the skipped
// files and the photo limits. The files are read in the workers
// (addFiles), never sent anywhere else; the accepted ones are kept for
// after a reload (sessions.js).
import { call, failed, isReady } from "./pretext.js";
import { byId, imageCanvas } from "./dom.js";
import { errorText, plural } from "./format.js";
import { showMessage } from "./messages.js";
import { keepPhotos, keepSamples, forgetPhotos } from "./sessions.js";
import { changed, onChange, phase, setPhase } from "./status.js";

const CHUNK = 24; // files per addFiles call, so thumbnails appear as a big folder is read

const el = {
  dropzone: byId("dropzone"), files: byId("files"), folder: byId("folder"), samples: byId("samples"), clear: byId("clear"),
  photoCount: byId("photo-count"), intakeNote: byId("intake-note"), thumbs: byId("thumbs"),
  rejectedBox: byId("rejected-box"), rejected: byId("rejected"), creditsBox: byId("credits-box"), credits: byId("credits"),
  maxPhotos: byId("max-photos"), maxMegapixels: byId("max-megapixels"), maxMemory: byId("max-memory"),
};

let count = 0; // photos the workers hold
let adding = false; // photos are being read

// photoCount is the number of photos the workers hold.
export function photoCount() {
  return count;
}

// addingPhotos reports whether photos are being read.
export function addingPhotos() {
  return adding;
}

// readyText is the status line of a page ready to train.
export function readyText() {
  return count
    ? `Ready: ${plural(count, "photo")} to learn from. Choose a puzzle and press Train.`
    : "Ready. Add some photos (or use the sample photos) to start.";
}

export function setUpPhotos() {
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
  setUpDropzone();
  onChange(() => {
    const canAdd = isReady() && !failed() && !adding; // photos may be added while training
    el.files.disabled = el.folder.disabled = el.samples.disabled = !canAdd;
    el.dropzone.dataset.disabled = String(!canAdd);
    el.clear.disabled = !canAdd || count === 0;
  });
}

const isHidden = (name) => name.split("/").some((part) => part.startsWith("."));

// intake runs one photo operation at a time, keeping the controls honest.
async function intake(note, work) {
  if (adding) return;
  adding = true;
  el.intakeNote.textContent = note;
  changed();
  try {
    await work();
  } catch (err) {
    showMessage("Could not add the photos: " + errorText(err));
    el.intakeNote.textContent = "";
  } finally {
    adding = false;
    changed();
  }
}

// addPhotos adds File objects (or {name, blob} of kept photos, with keep
// false) to the workers.
export function addPhotos(files, extraRejected = [], keep = true) {
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
  const num = (input) => {
    const v = Number(input.value);
    return input.value !== "" && Number.isFinite(v) && v > 0 ? v : 0;
  };
  return { maxPhotos: Math.floor(num(el.maxPhotos)), maxMegapixels: num(el.maxMegapixels), maxMegabytes: Math.floor(num(el.maxMemory)) };
}

export function addSamples() {
  return intake("Loading the sample photos…", async () => {
    const res = await call("addSamples");
    applyIntake(res);
    keepSamples();
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
    forgetPhotos();
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
  setPhotoCount(Number.isFinite(res.count) ? res.count : count + (res.added || []).length);
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
  count = n;
  el.photoCount.textContent = `${plural(n, "photo")} loaded`;
  if (phase() === "error" && !failed()) setPhase("idle", readyText); // a fixed problem clears the error
  else changed();
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
