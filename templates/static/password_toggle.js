// The "Show password" buttons of templates/_fields.html: each one shows or hides the password
// of the field it controls (aria-controls), and its text and name say which it will do. The
// page serves them hidden, so without this script nobody meets a button that does nothing; it
// shows them once they work.
"use strict";

for (const button of document.querySelectorAll("button.password-toggle")) {
  const field = document.getElementById(button.getAttribute("aria-controls"));
  if (field === null) continue;
  const show = (visible) => {
    field.type = visible ? "text" : "password";
    button.setAttribute("aria-pressed", String(visible));
    button.textContent = visible ? button.dataset.hideLabel : button.dataset.showLabel;
    // The name keeps naming the field: "Hide password: New password".
    button.setAttribute("aria-label", visible ? button.dataset.hideName : button.dataset.showName);
  };
  button.addEventListener("click", () => show(field.type === "password"));
  // A password must never be sent from a text field: browsers keep what text fields sent and
  // offer it again to whoever uses the browser next.
  if (field.form !== null) field.form.addEventListener("submit", () => show(false));
  button.hidden = false;
}
