// pagerd console: refreshes an open incident's page when the incident
// changes. The page asks for the incident's version every few seconds and
// reloads when it moved on, unless someone is typing a status update;
// it stops when the incident is gone (404), and once a form is sent.
// While pagerd cannot tell (a 5xx: the store is down; or no answer at
// all) the page says, in an alert line, that what it shows may be out of
// date, and keeps asking: the line goes at the next answer.
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
  // showStale shows the alert line saying why the page may be out of date,
  // or, with no reason, removes it. Made here rather than in the page, so
  // that a screen reader announces it when it appears.
  var stale = null;
  function showStale(why) {
    if (!why) {
      if (stale) {
        stale.parentNode.removeChild(stale);
        stale = null;
      }
      return;
    }
    if (!stale) {
      stale = document.createElement("p");
      stale.id = "stale";
      stale.className = "error";
      stale.setAttribute("role", "alert");
      var main = document.getElementById("main") || body;
      main.insertBefore(stale, main.firstChild);
    }
    if (stale.textContent !== why) {
      stale.textContent = why;
    }
  }
  function poll() {
    if (leaving) {
      return;
    }
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (r.status === 404) {
          return undefined; // the incident is gone: stop asking
        }
        if (r.status >= 500) {
          showStale("The incident store is not answering: this page may be out of date.");
          return null;
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
        if (v) {
          showStale("");
        }
        if (v && v !== version && !typing()) {
          window.location.replace(window.location.pathname);
          return;
        }
        setTimeout(poll, every);
      })
      .catch(function () {
        showStale("pagerd is not answering: this page may be out of date.");
        setTimeout(poll, every * 3);
      });
  }
  setTimeout(poll, every);
})();
