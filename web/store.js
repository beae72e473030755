// store.js: what the page keeps in this browser's IndexedDB so that a
// reload, a crash or a closed tab loses nothing: the photos (the person's
// own files, as Blobs, never sent anywhere), whether the sample photos were
// added, and the latest saved session (model, optimizer state, step,
// settings, the chart's history). All of it stays on this machine, in this
// origin's storage; "Discard" on the page deletes it.

const NAME = "pretext";
const VERSION = 1;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openDB() {
  const r = indexedDB.open(NAME, VERSION);
  r.onupgradeneeded = () => {
    const db = r.result;
    db.createObjectStore("photos", { autoIncrement: true }); // {name, blob}
    db.createObjectStore("state"); // "session", "samples"
  };
  return request(r);
}

class Store {
  constructor(db) {
    this.db = db;
  }

  // run runs fn(stores) in one transaction and resolves when it commits.
  run(names, mode, fn) {
    return new Promise((resolve, reject) => {
      const tx = this.db.transaction(names, mode);
      let result;
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("the browser's storage refused the change"));
      Promise.resolve(fn(...names.map((n) => tx.objectStore(n)))).then((v) => (result = v), reject);
    });
  }

  // addPhotos keeps files ([{name, blob}]).
  addPhotos(files) {
    return this.run(["photos"], "readwrite", (photos) => {
      for (const f of files) photos.add({ name: f.name, blob: f.blob });
    });
  }

  // photos resolves to every kept photo, in the order they were added.
  photos() {
    return this.run(["photos"], "readonly", (photos) => request(photos.getAll()));
  }

  // clearPhotos forgets the photos and the samples.
  clearPhotos() {
    return this.run(["photos", "state"], "readwrite", (photos, state) => {
      photos.clear();
      state.delete("samples");
    });
  }

  setSamples() {
    return this.run(["state"], "readwrite", (state) => state.put(true, "samples"));
  }

  samples() {
    return this.run(["state"], "readonly", (state) => request(state.get("samples")));
  }

  // putSession keeps the latest session: {bytes, task, step, steps,
  // config, history, savedAt}.
  putSession(s) {
    return this.run(["state"], "readwrite", (state) => state.put(s, "session"));
  }

  session() {
    return this.run(["state"], "readonly", (state) => request(state.get("session")));
  }

  // clear forgets everything.
  clear() {
    return this.run(["photos", "state"], "readwrite", (photos, state) => {
      photos.clear();
      state.clear();
    });
  }
}

// open resolves to the page's Store, or to null where the browser keeps
// no IndexedDB (a private window may refuse it): the page then works
// without surviving a reload.
export async function open() {
  try {
    if (!globalThis.indexedDB) return null;
    return new Store(await openDB());
  } catch (err) {
    return null;
  }
}
