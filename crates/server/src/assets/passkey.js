// Passkeys: registering one on "two-factor authentication", and signing in with one as the
// second step. The page holds the session's CSRF token and the messages in its language (as
// data attributes of #passkeys); the server checks everything, this script only carries the
// browser's WebAuthn answers to it, binary values in base64url.
(function () {
  "use strict";

  var root = document.getElementById("passkeys");
  if (!root) {
    return;
  }
  var status = document.getElementById("passkey-status");
  var lang = document.documentElement.lang || "ja";

  function say(text, failed) {
    status.textContent = text;
    status.className = failed ? "error" : "muted";
  }

  function fromBase64url(text) {
    var plain = text.replace(/-/g, "+").replace(/_/g, "/");
    while (plain.length % 4) {
      plain += "=";
    }
    var bytes = atob(plain);
    var out = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) {
      out[i] = bytes.charCodeAt(i);
    }
    return out.buffer;
  }

  function toBase64url(buffer) {
    var bytes = new Uint8Array(buffer);
    var text = "";
    for (var i = 0; i < bytes.length; i++) {
      text += String.fromCharCode(bytes[i]);
    }
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(path, body) {
    return fetch(path + "?lang=" + encodeURIComponent(lang), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": root.dataset.csrf,
      },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response
        .json()
        .catch(function () {
          return {};
        })
        .then(function (answer) {
          if (!response.ok) {
            var error = new Error((answer.error && answer.error.message) || root.dataset.failed);
            error.code = (answer.error && answer.error.code) || "failed";
            throw error;
          }
          return answer;
        });
    });
  }

  function descriptors(list) {
    return (list || []).map(function (d) {
      return { type: d.type, id: fromBase64url(d.id) };
    });
  }

  // The server's refusals come in the page's language; the browser's own exceptions (in
  // its language, and technical) are said plainly instead.
  function failed(error) {
    var name = error && error.name;
    if (error && error.code) {
      say(error.message, true);
    } else if (name === "NotAllowedError" || name === "AbortError") {
      say(root.dataset.cancelled, true);
    } else if (name === "InvalidStateError") {
      say(root.dataset.registered, true);
    } else {
      say(root.dataset.failed, true);
    }
    var locked = error && error.code === "account_locked";
    busy(locked);
    if (locked) {
      // The session has ended: back to signing in, once the message has been read.
      window.setTimeout(function () {
        window.location.assign("/sign-in");
      }, 5000);
    }
  }

  function busy(on) {
    root.querySelectorAll("button[data-passkey]").forEach(function (b) {
      b.disabled = on;
    });
  }

  function register() {
    var label = document.getElementById("passkey-label");
    if (!label.value.trim()) {
      say(root.dataset.needLabel, true);
      label.focus();
      return;
    }
    busy(true);
    say(root.dataset.waiting, false);
    post("/me/passkeys/challenge")
      .then(function (options) {
        options.challenge = fromBase64url(options.challenge);
        options.user.id = fromBase64url(options.user.id);
        options.excludeCredentials = descriptors(options.excludeCredentials);
        return navigator.credentials.create({ publicKey: options });
      })
      .then(function (credential) {
        var r = credential.response;
        say(root.dataset.checking, false);
        return post("/me/passkeys", {
          id: toBase64url(credential.rawId),
          clientDataJSON: toBase64url(r.clientDataJSON),
          authenticatorData: toBase64url(r.getAuthenticatorData()),
          publicKey: toBase64url(r.getPublicKey()),
          publicKeyAlgorithm: r.getPublicKeyAlgorithm(),
          label: label.value,
        });
      })
      .then(function (done) {
        say(root.dataset.done, false);
        window.location.assign(done.next);
      })
      .catch(failed);
  }

  function signIn() {
    busy(true);
    say(root.dataset.waiting, false);
    post("/sign-in/passkey/challenge")
      .then(function (options) {
        options.challenge = fromBase64url(options.challenge);
        options.allowCredentials = descriptors(options.allowCredentials);
        return navigator.credentials.get({ publicKey: options });
      })
      .then(function (credential) {
        var r = credential.response;
        say(root.dataset.checking, false);
        return post("/sign-in/passkey", {
          id: toBase64url(credential.rawId),
          clientDataJSON: toBase64url(r.clientDataJSON),
          authenticatorData: toBase64url(r.authenticatorData),
          signature: toBase64url(r.signature),
        });
      })
      .then(function (done) {
        window.location.assign(done.next);
      })
      .catch(failed);
  }

  if (!window.PublicKeyCredential || !navigator.credentials) {
    say(root.dataset.unsupported, true);
    busy(true);
    return;
  }
  var registerButton = document.getElementById("passkey-register");
  if (registerButton) {
    registerButton.addEventListener("click", register);
  }
  var signInButton = document.getElementById("passkey-sign-in");
  if (signInButton) {
    signInButton.addEventListener("click", signIn);
  }
})();
