// dom.js: what every part of the page does with the document: find its
// elements, draw the module's images, and download the files it makes.
import { errorText } from "./format.js";

export const byId = (id) => document.getElementById(id);

// imageCanvas draws an image of the module ({width, height, data}: RGBA
// bytes) on a new canvas labelled label.
export function imageCanvas(img, label) {
  const c = document.createElement("canvas");
  c.setAttribute("role", "img");
  if (label) {
    c.title = label;
    c.setAttribute("aria-label", label);
  }
  if (!img || !(img.width > 0) || !(img.height > 0)) return c;
  c.width = img.width;
  c.height = img.height;
  if (Math.max(img.width, img.height) <= 64) c.classList.add("pixelated");
  try {
    const d = img.data;
    const data = d instanceof Uint8ClampedArray ? d
      : ArrayBuffer.isView(d) ? new Uint8ClampedArray(d.buffer, d.byteOffset, d.byteLength)
      : Uint8ClampedArray.from(d || []);
    c.getContext("2d").putImageData(new ImageData(data, img.width, img.height), 0, 0);
  } catch (err) {
    c.classList.add("broken");
    c.title = (label ? label + ": " : "") + "could not be drawn (" + errorText(err) + ")";
  }
  return c;
}

// download saves bytes as a file named name (a Blob behind an object URL,
// revoked long after the download has started).
export function download(bytes, name, type = "application/octet-stream") {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}
