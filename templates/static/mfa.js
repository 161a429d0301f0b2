// The MFA pages' copy and download buttons (templates/mfa_setup.html, mfa_recovery_codes.html).
// Self-hosted and loaded with defer (the CSP allows no inline script). Without it the buttons
// stay hidden and the page still works: the key and the codes are plain text to select.
"use strict";

(function () {
  function say(button, message) {
    const status = button.parentElement.querySelector(".copy-status");
    if (status) {
      status.textContent = message;
    }
  }

  function codesOf(listId) {
    const list = document.getElementById(listId);
    return Array.from(list.querySelectorAll("code"), (code) => code.textContent.trim());
  }

  function copyOnClick(button, textOf) {
    if (!navigator.clipboard || !window.isSecureContext) {
      return; // no clipboard here: the text stays there to select by hand
    }
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(textOf()).then(
        () => say(button, button.dataset.copied),
        () => say(button, button.dataset.copyFailed)
      );
    });
  }

  // A Blob made from the page itself: the server keeps only hashes of the codes, so no route
  // could serve them again (security/mfa/recovery_handover.py).
  function downloadOnClick(button) {
    button.hidden = false;
    button.addEventListener("click", () => {
      const lines = [button.dataset.heading, ""].concat(codesOf(button.dataset.downloadCodes));
      const file = new Blob([lines.join("\n") + "\n"], { type: "text/plain;charset=utf-8" });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(file);
      link.download = button.dataset.filename;
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 1000);
      say(button, button.dataset.downloaded);
    });
  }

  document.querySelectorAll("button[data-copy]").forEach((button) => {
    copyOnClick(button, () => button.dataset.copy);
  });
  document.querySelectorAll("button[data-copy-codes]").forEach((button) => {
    copyOnClick(button, () => codesOf(button.dataset.copyCodes).join("\n"));
  });
  document.querySelectorAll("button[data-download-codes]").forEach(downloadOnClick);
})();
