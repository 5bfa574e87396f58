// pagerd console: refreshes an open incident's page when the incident
// changes. The page asks for the incident's version every few seconds and
// reloads when it moved on, unless someone is typing a status update;
// it stops when the incident is gone (404), and once a form is sent.
// Whenever the answer is not the version (a 5xx: the store is down; the
// session ended: a redirect to sign in, 401 or 403; any other refusal;
// or no answer at all, a request left unanswered for data-timeout
// milliseconds counting as none) the page says, in an alert line, that
// what it shows may be out of date, and keeps asking: the line goes at
// the next version.
// Without this script the page still works, and refreshes itself every
// 30 seconds (a <noscript> refresh).
(function () {
  "use strict";
  var body = document.body;
  var url = body.getAttribute("data-refresh");
  var version = body.getAttribute("data-version");
  var every = parseInt(body.getAttribute("data-interval"), 10) || 5000;
  var patience = parseInt(body.getAttribute("data-timeout"), 10) || 10000;
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
  // refusal is what the alert line says for an answer that is neither the
  // version nor 404. pagerd sends a request without a session to sign in
  // (a redirect, not followed: it would answer with the sign-in page); a
  // proxy in front may answer 401 or 403.
  function refusal(r) {
    if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) {
      return "You are no longer signed in: sign in again (reload the page) to see the incident as it is now. This page may be out of date.";
    }
    if (r.status >= 500) {
      return "The incident store is not answering: this page may be out of date.";
    }
    return "pagerd refused to say whether the incident changed (HTTP " + r.status + "): this page may be out of date.";
  }
  function poll() {
    if (leaving) {
      return;
    }
    // A request that hangs (a frozen replica) is given up after patience
    // milliseconds, answer and body both, and counts as no answer.
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, patience) : null;
    fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "manual", signal: ctl ? ctl.signal : undefined })
      .then(function (r) {
        if (r.status === 404) {
          return undefined; // the incident is gone: stop asking
        }
        if (!r.ok) {
          showStale(refusal(r));
          return null;
        }
        return r.text();
      })
      .then(function (v) {
        clearTimeout(timer);
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
        clearTimeout(timer);
        showStale("pagerd is not answering: this page may be out of date.");
        setTimeout(poll, every * 3);
      });
  }
  setTimeout(poll, every);
})();
