// Passkeys (WebAuthn): adding one on the account page (or the first one on the invitation page),
// signing in with one on the sign-in page (a button, and the browser's own offer in the Email
// field: conditional mediation), and using one as the second step. The server makes the
// options and checks the answers; this file only carries them between it and
// navigator.credentials. Each button is hidden until this script
// finds WebAuthn, so a browser without it (or without JavaScript) sees the forms alone.
"use strict";

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) {
    return;
  }

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) {
      bytes[i] = binary.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withBytes(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: withBytes(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: withBytes(json.allowCredentials),
    });
  }

  function answer(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || undefined,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      if (response.userHandle) {
        json.response.userHandle = toText(response.userHandle);
      }
    }
    return JSON.stringify(json);
  }

  // Every call is a form post (csrf_token and the other fields); every answer is JSON.
  function post(url, csrf, fields) {
    var body = new URLSearchParams(Object.assign({ csrf_token: csrf }, fields || {}));
    return fetch(url, { method: "POST", body: body, credentials: "same-origin" }).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return {}; // not our JSON (an expired form's error page, say): the fallback text
          })
          .then(function (json) {
            if (!response.ok) {
              var error = new Error(json.error || "");
              error.location = json.location;
              throw error;
            }
            return json;
          });
      }
    );
  }

  function showError(box, error) {
    if (error && error.location) {
      window.location.assign(error.location);
      return;
    }
    if (!box) {
      return;
    }
    // A cancelled prompt (NotAllowedError) or an aborted request is the person's choice.
    if (error && (error.name === "NotAllowedError" || error.name === "AbortError")) {
      box.hidden = true;
      return;
    }
    // The browser's own errors (an authenticator that already holds this passkey, say) are
    // in its language, not the page's: the page's general message instead.
    var own = error && !(error instanceof DOMException) ? error.message : "";
    box.textContent = own || box.dataset.fallback;
    box.hidden = false;
  }

  // The page's CSRF token and `next`, from its form's hidden fields (one copy of each).
  function field(name) {
    var input = document.querySelector('input[name="' + name + '"]');
    return input ? input.value : "";
  }

  function go(json) {
    window.location.assign(json.location);
  }

  // Parts of a page that only make sense where passkeys can be made (the invitation page's
  // offer); without WebAuthn or JavaScript they stay hidden and the page's form stands alone.
  Array.prototype.forEach.call(document.querySelectorAll("[data-webauthn]"), function (part) {
    part.hidden = false;
  });

  // --- add a passkey: on the account page, and as the first one of an invited account ----------
  var add = document.getElementById("passkey-add");
  if (add) {
    var addError = document.getElementById("passkey-error");
    add.hidden = false;
    add.addEventListener("click", function () {
      add.disabled = true;
      post(add.dataset.options, field("csrf_token"))
        .then(function (options) {
          return navigator.credentials.create({ publicKey: creationOptions(options) });
        })
        .then(function (credential) {
          return post(add.dataset.submit, field("csrf_token"), { credential: answer(credential) });
        })
        .then(go)
        .catch(function (error) {
          add.disabled = false;
          showError(addError, error);
        });
    });
  }

  // --- sign in with a passkey (alone, or as the second step) -----------------------------------
  function signIn(button, mediation, signal) {
    var box = document.getElementById("passkey-error");
    return post(button.dataset.options, field("csrf_token"))
      .then(function (options) {
        var request = { publicKey: requestOptions(options) };
        if (mediation) {
          request.mediation = mediation;
          request.signal = signal;
        }
        return navigator.credentials.get(request);
      })
      .then(function (credential) {
        return post(button.dataset.submit, field("csrf_token"), {
          credential: answer(credential),
          next: field("next") || "/",
        });
      })
      .then(go)
      .catch(function (error) {
        // A conditional request ends quietly: the browser may have no passkey for this site,
        // or the person chose to type a password instead.
        if (!mediation) {
          showError(box, error);
        }
      });
  }

  var button = document.getElementById("passkey-sign-in");
  if (button) {
    button.hidden = false;
    var conditional = null;
    button.addEventListener("click", function () {
      if (conditional) {
        conditional.abort(); // one WebAuthn request at a time
        conditional = null;
      }
      signIn(button);
    });
    // Conditional mediation: the browser lists passkeys in the Email field's suggestions.
    if (button.dataset.conditional && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (available) {
          conditional = new AbortController();
          signIn(button, "conditional", conditional.signal);
        }
      });
    }
  }
})();
