// messages.js: the message area at the top of the page (#messages), where
// errors and notes for the person appear.
import { byId } from "./dom.js";

const area = byId("messages");

// showMessage shows text in the message area: kind "error" (dismissible),
// "info" (dismissible) or "fatal" (stays).
export function showMessage(text, kind = "error") {
  const box = document.createElement("div");
  box.className = "message " + kind;
  box.setAttribute("role", kind === "info" ? "status" : "alert");
  const p = document.createElement("p");
  p.textContent = text;
  box.append(p);
  if (kind !== "fatal") {
    const close = document.createElement("button");
    close.type = "button";
    close.className = "dismiss";
    close.textContent = "Dismiss";
    close.setAttribute("aria-label", "Dismiss this message");
    close.addEventListener("click", () => box.remove());
    box.append(close);
  }
  area.append(box);
  while (area.children.length > 6) area.firstElementChild.remove();
}
