// pagerd console: refreshes an open incident's page when the incident
// changes. The page asks for the incident's version every few seconds and
// reloads when it moved on, unless someone is typing a status update;
// it stops when the incident is gone (404), and once a form is sent.
// Without this script the page still works, and refreshes itself every
// 30 seconds (a <noscript> refresh).
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-refresh");
  var version = body.getAttribute("data-version");
  var every = parseInt(body.getAttribute("data-interval"), 10) || 5000;
  if (!url) {
    return;
  }
  function typing() {
    var a = document.activeElement;
    if (a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT" || a.tagName === "SELECT")) {
      return true;
    }
    var boxes = document.querySelectorAll("textarea");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].value) {
        return true;
      }
    }
    return false;
  }
  // A form sent (a button: acknowledge, resolve…) is on its way to a page
  // that says what it did: a poll answered meanwhile (the incident moved
  // on: by that very button) must not replace it with a plain reload.
  var leaving = false;
  document.addEventListener("submit", function () { leaving = true; }, true);
  function poll() {
    if (leaving) {
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 404) {
          return undefined; // the incident is gone: stop asking
        }
        return r.ok ? r.text() : null;
      })
      .then(function (v) {
        if (v === undefined) {
          return;
        }
        if (leaving) {
          return;
        }
        if (v && v !== version && !typing()) {
          window.location.replace(window.location.pathname);
          return;
        }
        setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every * 3); });
  }
  setTimeout(poll, every);
})();
