// format.js: numbers and sentences as the page writes them for people.

// errorText is an error's message, or whatever was thrown, as text.
export function errorText(err) {
  return err && err.message ? err.message : String(err);
}

// sentence capitalises text and ends it with a full stop if it has none.
export function sentence(text) {
  text = String(text).trim();
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? "" : ".");
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

// pct writes a fraction (the module's accuracies) as a percentage.
export function pct(x) {
  return Number.isFinite(x) ? (x * 100).toFixed(1) + "%" : "–";
}

export function num(x, digits = 3) {
  return Number.isFinite(x) ? x.toFixed(digits) : "–";
}

// duration writes seconds as m:ss or h:mm:ss.
export function duration(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}
