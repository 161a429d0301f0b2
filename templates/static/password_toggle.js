// The "Show password" buttons of templates/_fields.html: each one shows or hides the password
// of the field it controls (aria-controls), and its text and name say which it will do. The
// page serves them hidden, so without this script nobody meets a button that does nothing; it
// shows them once they work.
"use strict";

for (const button of document.querySelectorAll("button.password-toggle")) {
  const field = document.getElementById(button.getAttribute("aria-controls"));
  if (field === null) continue;
  // Only the visible words change; the text for screen readers after them keeps naming the
  // field: "Hide password (New password)".
  const text = button.querySelector(".password-toggle-text");
  if (text === null) continue;
  const show = (visible) => {
    field.type = visible ? "text" : "password";
    button.setAttribute("aria-pressed", String(visible));
    text.textContent = visible ? button.dataset.hideLabel : button.dataset.showLabel;
  };
  button.addEventListener("click", () => show(field.type === "password"));
  // A password must never be sent from a text field: browsers keep what text fields sent and
  // offer it again to whoever uses the browser next.
  if (field.form !== null) field.form.addEventListener("submit", () => show(false));
  button.hidden = false;
}
