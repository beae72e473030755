// fakedom.mjs: just enough of a browser for the page's modules to load and
// run in Node (node --test): a document whose elements are index.html's
// (every element with an id, with its attributes, labels, options and
// enclosing <details>), number fields that check their min, max, step and
// required attributes as a browser does, canvases whose 2D context records
// every call, and the window globals the modules touch. It is a stand-in
// for the DOM, not a DOM: what a test asserts on is the page's logic.
import { readFileSync } from "node:fs";

const PAGE = new URL("../index.html", import.meta.url);

// Context2D records the calls made on a canvas's 2D context, [name,
// ...args] each, and keeps the properties set on it.
function context2D() {
  const target = {
    calls: [],
    measureText: (text) => ({ width: 7 * String(text).length }),
  };
  return new Proxy(target, {
    get(t, prop) {
      if (prop in t || typeof prop === "symbol") return t[prop];
      return (...args) => t.calls.push([prop, ...args]);
    },
  });
}

// FakeElement is an element of the fake document.
export class FakeElement {
  constructor(tag, attrs = {}) {
    this.tagName = tag.toUpperCase();
    this.attrs = { ...attrs };
    this.id = attrs.id || "";
    this.childList = [];
    this.parent = null;
    this.listeners = new Map();
    this.dataset = {};
    this.textContent = "";
    this.hidden = "hidden" in attrs;
    this.disabled = "disabled" in attrs;
    this.open = "open" in attrs;
    this.className = attrs.class || "";
    this.placeholder = attrs.placeholder || "";
    this.type = attrs.type || "";
    this.labels = [];
    this.details = null; // the <details> this element sits in, if any
    this.clientWidth = 0;
    this.clientHeight = 0;
    this.width = 0;
    this.height = 0;
    this.ownValue = attrs.value ?? "";
    this.context = null;
    const el = this;
    this.classList = {
      add: (...names) => (el.className = [...new Set([...el.className.split(/\s+/).filter(Boolean), ...names])].join(" ")),
      remove: (...names) => (el.className = el.className.split(/\s+/).filter((c) => c && !names.includes(c)).join(" ")),
      toggle: (name, on) => ((on ?? !el.classList.contains(name)) ? el.classList.add(name) : el.classList.remove(name)),
      contains: (name) => el.className.split(/\s+/).includes(name),
    };
  }

  get children() {
    return this.childList;
  }
  get firstElementChild() {
    return this.childList[0] || null;
  }
  get options() {
    return this.childList.filter((c) => c.tagName === "OPTION");
  }

  // value follows the browser: a select's is its selected option's, and
  // setting one it has no option for selects none.
  get value() {
    if (this.tagName !== "SELECT") return this.ownValue;
    const o = this.options.find((o) => o.selected) || null;
    return o ? o.value : "";
  }
  set value(v) {
    v = String(v);
    if (this.tagName !== "SELECT") {
      this.ownValue = v;
      return;
    }
    let found = false;
    for (const o of this.options) {
      o.selected = !found && o.value === v;
      if (o.selected) found = true;
    }
  }

  append(...nodes) {
    for (const n of nodes) {
      if (n.parent) n.remove();
      n.parent = this;
      this.childList.push(n);
      if (this.tagName === "SELECT" && n.tagName === "OPTION" && !this.options.some((o) => o.selected)) n.selected = true;
    }
  }
  replaceChildren(...nodes) {
    for (const c of this.childList) c.parent = null;
    this.childList = [];
    this.append(...nodes);
  }
  remove() {
    if (!this.parent) return;
    this.parent.childList = this.parent.childList.filter((c) => c !== this);
    this.parent = null;
  }

  setAttribute(name, value) {
    this.attrs[name] = String(value);
  }
  getAttribute(name) {
    return name in this.attrs ? this.attrs[name] : null;
  }

  addEventListener(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, []);
    this.listeners.get(type).push(fn);
  }
  // dispatch calls the listeners for type, as a user's action would.
  dispatch(type) {
    for (const fn of this.listeners.get(type) || []) fn({ type, target: this, preventDefault() {} });
  }

  closest(selector) {
    if (selector !== "details") throw new Error(`fakedom: closest(${selector}) is not faked`);
    return this.details;
  }
  focus() {
    globalThis.document.activeElement = this;
  }

  getContext(kind) {
    if (kind !== "2d") throw new Error(`fakedom: getContext(${kind}) is not faked`);
    if (!this.context) this.context = context2D();
    return this.context;
  }

  // problem is the browser's validation message for a number field: its
  // required, min, max and step attributes, in the order Chromium checks
  // them, with Chromium's wording.
  problem() {
    if (this.tagName !== "INPUT" || this.attrs.type !== "number") return "";
    const text = this.value.trim();
    if (text === "") return "required" in this.attrs ? "Please fill out this field." : "";
    const v = Number(text);
    if (!Number.isFinite(v)) return "Please enter a number.";
    const { min, max, step } = this.attrs;
    if (min !== undefined && v < Number(min)) return `Value must be greater than or equal to ${min}.`;
    if (max !== undefined && v > Number(max)) return `Value must be less than or equal to ${max}.`;
    if (step !== "any") {
      const s = Number(step ?? 1);
      const base = Number(min ?? 0);
      const k = (v - base) / s;
      if (Math.abs(k - Math.round(k)) > 1e-7) {
        const lo = base + Math.floor(k) * s;
        return `Please enter a valid value. The two nearest valid values are ${lo} and ${lo + s}.`;
      }
    }
    return "";
  }
  checkValidity() {
    return this.problem() === "";
  }
  get validationMessage() {
    return this.problem();
  }
}

// parseAttrs reads a tag's attributes.
function parseAttrs(text) {
  const attrs = {};
  for (const m of text.matchAll(/([\w-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'))?/g)) {
    attrs[m[1]] = m[2] ?? m[3] ?? "";
  }
  return attrs;
}

// parsePage makes the elements of html that have an id, the options of
// its selects, its labels and its <details>.
function parsePage(html) {
  const byId = new Map();
  const labels = []; // [for, text]
  const details = [];
  let select = null;
  for (const m of html.matchAll(/<(\/?)([a-zA-Z][\w-]*)([^>]*)>/g)) {
    const [, closing, name, rest] = m;
    const tag = name.toLowerCase();
    if (closing) {
      if (tag === "details") details.pop();
      if (tag === "select") select = null;
      continue;
    }
    const attrs = parseAttrs(rest);
    const after = html.slice(m.index + m[0].length);
    if (tag === "label" && attrs.for) labels.push([attrs.for, after.slice(0, after.indexOf("</label>")).trim()]);
    if (tag === "option" && select) {
      const o = new FakeElement("option", attrs);
      o.textContent = after.slice(0, after.indexOf("</option>")).trim();
      select.append(o);
      continue;
    }
    let el = null;
    if (tag === "details") {
      el = new FakeElement(tag, attrs);
      el.details = details.at(-1) || null;
      details.push(el);
    }
    if (attrs.id) {
      el = el || new FakeElement(tag, attrs);
      if (!el.details) el.details = details.at(-1) || null;
      byId.set(attrs.id, el);
      if (tag === "select") select = el;
    }
  }
  for (const [id, text] of labels) {
    const input = byId.get(id);
    if (!input) continue;
    const label = new FakeElement("label", { for: id });
    label.textContent = text;
    input.labels.push(label);
  }
  return byId;
}

// installPage puts a fake document holding index.html's elements, and the
// globals the page's modules use (window, navigator, Option,
// requestAnimationFrame), on globalThis, before the modules are imported.
// cores is navigator.hardwareConcurrency. It returns the document; its
// frames are the callbacks given to requestAnimationFrame, not yet run.
export function installPage({ cores = 2 } = {}) {
  const elements = parsePage(readFileSync(PAGE, "utf8"));
  const frames = [];
  const document = {
    elements,
    frames,
    activeElement: null,
    body: new FakeElement("body"),
    getElementById: (id) => elements.get(id) || null,
    createElement: (tag) => new FakeElement(tag),
  };
  const windowListeners = new Map();
  const globals = {
    document,
    window: globalThis,
    navigator: { hardwareConcurrency: cores },
    devicePixelRatio: 1,
    requestAnimationFrame: (fn) => frames.push(fn),
    addEventListener: (type, fn) => {
      if (!windowListeners.has(type)) windowListeners.set(type, []);
      windowListeners.get(type).push(fn);
    },
    // new Option(text, value), as the page makes menu entries.
    Option: function Option(text, value) {
      const o = new FakeElement("option", { value: value ?? text });
      o.textContent = text;
      return o;
    },
  };
  for (const [name, value] of Object.entries(globals)) {
    // navigator is a getter on Node 21's globalThis: define, do not assign.
    Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  return document;
}

// messages is the texts of the page's messages (#messages), oldest first.
export function messages() {
  return globalThis.document.getElementById("messages").children.map((box) => box.children[0].textContent);
}
