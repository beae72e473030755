// store.test.mjs: what the page keeps for after a reload (store.js, and
// sessions.js over it), in a fake IndexedDB (fakeidb.mjs): the photos the
// workers accepted, the samples, the latest session, what Discard
// forgets, what the page offers back on the next visit, and what it says
// when the browser's storage fails.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { installPage, messages } from "./fakedom.mjs";
import { FakeIndexedDB } from "./fakeidb.mjs";

const doc = installPage();
const { open } = await import("../store.js");
const sessions = await import("../sessions.js");
const byId = (id) => doc.getElementById(id);

function setIndexedDB(value) {
  Object.defineProperty(globalThis, "indexedDB", { value, configurable: true, writable: true });
}

const photo = (name, text = name) => ({ name, blob: new Blob([text]) });
const SESSION = { bytes: new Uint8Array([1, 2, 3]), task: "rotation", step: 25, steps: 100, config: { task: "rotation", steps: 100 }, history: [{ step: 1, loss: 2 }], savedAt: Date.UTC(2024, 0, 2, 3, 4) };

beforeEach(() => {
  setIndexedDB(new FakeIndexedDB());
  byId("messages").replaceChildren();
  byId("saved-box").hidden = true;
});

test("open: no store where the browser keeps no IndexedDB or refuses it", async () => {
  setIndexedDB(undefined);
  assert.equal(await open(), null);
  const refusing = new FakeIndexedDB();
  refusing.refuseOpen = true;
  setIndexedDB(refusing);
  assert.equal(await open(), null);
});

test("Store keeps photos in order, the samples and the session, and forgets them apart", async () => {
  const store = await open();
  assert.ok(store);
  assert.deepEqual(await store.photos(), []);
  assert.equal(await store.samples(), undefined);
  assert.equal(await store.session(), undefined);
  await store.addPhotos([photo("b.jpg"), photo("a.jpg")]);
  await store.addPhotos([photo("c.jpg")]);
  const kept = await store.photos();
  assert.deepEqual(kept.map((p) => p.name), ["b.jpg", "a.jpg", "c.jpg"], "in the order they were added");
  assert.deepEqual(Object.keys(kept[0]).sort(), ["blob", "name"]);
  assert.equal(await kept[1].blob.text(), "a.jpg");
  await store.setSamples();
  assert.equal(await store.samples(), true);
  await store.putSession(SESSION);
  await store.putSession({ ...SESSION, step: 50 });
  assert.equal((await store.session()).step, 50, "the latest session replaces the last");
  // Clearing the photos keeps the model.
  await store.clearPhotos();
  assert.deepEqual(await store.photos(), []);
  assert.equal(await store.samples(), undefined);
  assert.deepEqual(await store.session(), { ...SESSION, step: 50 });
  // A reopened store sees what was kept.
  await store.addPhotos([photo("d.jpg")]);
  const again = await open();
  assert.deepEqual((await again.photos()).map((p) => p.name), ["d.jpg"]);
  await again.clear();
  assert.deepEqual([await store.photos(), await store.samples(), await store.session()], [[], undefined, undefined]);
});

test("Store rejects a change the browser's storage refuses", async () => {
  const idb = new FakeIndexedDB();
  setIndexedDB(idb);
  const store = await open();
  idb.full = true;
  await assert.rejects(store.putSession(SESSION), { name: "QuotaExceededError" });
  await assert.rejects(store.addPhotos([photo("a.jpg")]), { name: "QuotaExceededError" });
  idb.full = false;
  assert.equal(await store.session(), undefined);
});

test("sessions: the page keeps the photos the workers accepted and the latest session, and offers them back", async () => {
  assert.equal(sessions.keeping(), false, "nothing is kept before the storage is open");
  await sessions.offerSaved(() => assert.fail("nothing to restore"));
  assert.equal(sessions.keeping(), true);
  assert.equal(byId("saved-box").hidden, true, "an empty store offers nothing");
  // Files as the picker gives them; the workers accepted two of three, by
  // their path in a folder or their name.
  const files = [
    Object.assign(new Blob(["1"]), { name: "cat.jpg", webkitRelativePath: "pets/cat.jpg" }),
    Object.assign(new Blob(["2"]), { name: "notes.txt", webkitRelativePath: "" }),
    Object.assign(new Blob(["3"]), { name: "dog.png", webkitRelativePath: "" }),
  ];
  sessions.keepPhotos(files, [{ name: "pets/cat.jpg" }, { name: "dog.png" }]);
  sessions.keepSamples();
  sessions.keepSession(SESSION);
  await indexedDB.idle();
  assert.equal(sessions.lastSaved(), 25, "the step of the session stored");
  // The next visit.
  let restored = null;
  await sessions.offerSaved((saved) => (restored = saved));
  assert.equal(byId("saved-box").hidden, false);
  assert.equal(byId("saved-text").textContent,
    `From your last visit, this browser kept your 2 photos and the sample photos and the rotation model at step 25 of 100 (saved ${new Date(SESSION.savedAt).toLocaleString()}). ` +
    "Restore them, or discard them from this browser's storage.");
  byId("saved-restore").onclick();
  assert.equal(byId("saved-box").hidden, true);
  assert.deepEqual(restored.photos.map((p) => p.name), ["pets/cat.jpg", "dog.png"]);
  assert.equal(await restored.photos[1].blob.text(), "3");
  assert.equal(restored.samples, true);
  assert.deepEqual(restored.session, SESSION);
  // Discard forgets it all.
  await sessions.offerSaved(() => {});
  assert.equal(sessions.wasDiscarded(), false);
  await byId("saved-discard").onclick();
  assert.equal(sessions.wasDiscarded(), true);
  assert.equal(byId("saved-box").hidden, true);
  const store = await open();
  assert.deepEqual([await store.photos(), await store.samples(), await store.session()], [[], undefined, undefined]);
  // One photo and no session: the singular, and only what there is.
  sessions.keepPhotos(files.slice(2), [{ name: "dog.png" }]);
  await indexedDB.idle();
  await sessions.offerSaved(() => {});
  assert.equal(byId("saved-text").textContent, "From your last visit, this browser kept your 1 photo. Restore them, or discard them from this browser's storage.");
  sessions.forgetPhotos();
  await indexedDB.idle();
  assert.deepEqual(await store.photos(), []);
  assert.deepEqual(messages(), []);
});

test("sessions: a failing storage is said, and training goes on", async () => {
  const idb = new FakeIndexedDB();
  setIndexedDB(idb);
  await sessions.offerSaved(() => {});
  const before = sessions.lastSaved();
  idb.full = true;
  sessions.keepSession({ ...SESSION, step: 75 });
  await indexedDB.idle();
  assert.equal(sessions.lastSaved(), before, "a session not stored is not the last saved");
  assert.deepEqual(messages(), ["This browser could not keep the work for after a reload: the quota has been exceeded. Training goes on; export the model to keep it."]);
});
