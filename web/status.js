// status.js: what the page is doing, on its status line (#status, whose
// data-state the browser test waits on), and the one signal that something
// the controls depend on changed: a module that changes such state calls
// changed(), and every module's controls follow (onChange).
import { byId } from "./dom.js";

const line = byId("status");
let current = "loading";
let text = "Loading the Pretext module…";
const listeners = [];

// setPhase sets the phase ("loading", "idle", "training", "stopped",
// "done" or "error") and its text: a string, or a function read at every
// redraw for a text that follows the state (how many photos, whether a
// stop was asked for).
export function setPhase(phase, describe = "") {
  current = phase;
  text = describe;
  changed();
}

export function phase() {
  return current;
}

// onChange calls fn after every change, to enable or disable controls.
export function onChange(fn) {
  listeners.push(fn);
}

// changed redraws the status line and tells every listener.
export function changed() {
  line.dataset.state = current;
  line.textContent = typeof text === "function" ? text() : text;
  for (const fn of listeners) fn();
}
