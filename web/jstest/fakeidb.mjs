// fakeidb.mjs: an in-memory stand-in for the browser's IndexedDB, as much
// of it as store.js uses: open with an upgrade, object stores (with
// autoIncrement keys), transactions that complete once their requests are
// done, readonly transactions that refuse writes, and a quota that can run
// out (a write fails, the transaction aborts). It keeps no data between
// processes.

// FakeIndexedDB is globalThis.indexedDB for a test.
export class FakeIndexedDB {
  constructor() {
    this.databases = new Map();
    this.refuseOpen = false; // a private window that keeps nothing
    this.full = false; // the quota ran out: every write fails
    this.busy = 0; // open requests and unfinished transactions
  }

  // idle resolves once every request and transaction has finished (and
  // their callbacks have run): what the page started is then stored.
  async idle() {
    do await new Promise((r) => setTimeout(r, 0));
    while (this.busy);
  }

  open(name, version) {
    const req = {};
    this.busy++;
    setTimeout(() => {
      this.busy--;
      if (this.refuseOpen) {
        req.error = new DOMException("The user denied permission to access the database.", "UnknownError");
        req.onerror?.();
        return;
      }
      let db = this.databases.get(name);
      if (!db) this.databases.set(name, (db = new FakeDatabase(this)));
      req.result = db;
      if (db.version < version) {
        db.version = version;
        req.onupgradeneeded?.();
      }
      req.onsuccess?.();
    }, 0);
    return req;
  }
}

class FakeDatabase {
  constructor(idb) {
    this.idb = idb;
    this.version = 0;
    this.stores = new Map(); // name -> {auto, next, data: Map}
  }
  createObjectStore(name, options = {}) {
    this.stores.set(name, { auto: !!options.autoIncrement, next: 1, data: new Map() });
  }
  transaction(names, mode = "readonly") {
    for (const n of names) if (!this.stores.has(n)) throw new DOMException(`no object store ${n}`, "NotFoundError");
    return new FakeTransaction(this, names, mode);
  }
}

class FakeTransaction {
  constructor(db, names, mode) {
    this.db = db;
    this.names = names;
    this.mode = mode;
    this.pending = 0;
    this.error = null;
    this.finished = false;
    db.idb.busy++;
    // Like a browser's, it commits once control returns to the event loop
    // with no request left.
    const settle = () => {
      if (this.finished) return;
      if (this.pending) return setTimeout(settle, 0);
      this.finish();
      this.oncomplete?.();
    };
    setTimeout(settle, 0);
  }

  finish() {
    this.finished = true;
    this.db.idb.busy--;
  }

  objectStore(name) {
    if (!this.names.includes(name)) throw new DOMException(`${name} is not in the transaction`, "NotFoundError");
    return new FakeStore(this, this.db.stores.get(name));
  }

  request(write, fn) {
    if (this.finished) throw new DOMException("the transaction has finished", "TransactionInactiveError");
    if (write && this.mode !== "readwrite") throw new DOMException("the transaction is read-only", "ReadOnlyError");
    const req = {};
    this.pending++;
    setTimeout(() => {
      this.pending--;
      if (this.finished) return;
      try {
        if (write && this.db.idb.full) throw new DOMException("the quota has been exceeded", "QuotaExceededError");
        req.result = fn();
        req.onsuccess?.();
      } catch (err) {
        req.error = this.error = err;
        req.onerror?.();
        this.finish();
        this.onerror?.();
        this.onabort?.();
      }
    }, 0);
    return req;
  }
}

class FakeStore {
  constructor(tx, store) {
    this.tx = tx;
    this.store = store;
  }
  add(value, key) {
    return this.tx.request(true, () => {
      const k = key ?? this.store.next++;
      if (this.store.data.has(k)) throw new DOMException("the key exists", "ConstraintError");
      this.store.data.set(k, value);
      return k;
    });
  }
  put(value, key) {
    return this.tx.request(true, () => {
      const k = key ?? this.store.next++;
      this.store.data.set(k, value);
      return k;
    });
  }
  get(key) {
    return this.tx.request(false, () => this.store.data.get(key));
  }
  getAll() {
    // In key order, as IndexedDB gives them.
    return this.tx.request(false, () => [...this.store.data.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v));
  }
  delete(key) {
    return this.tx.request(true, () => void this.store.data.delete(key));
  }
  clear() {
    return this.tx.request(true, () => void this.store.data.clear());
  }
}
