// pagerd console: refreshes an open incident's page when the incident
// changes, and the incident list when what it lists changes. The page
// asks for its version every few seconds (data-interval) and, when it
// moved on, reloads, or, on the list (data-swap), fetches the page anew
// and puts its list in place of the one shown, leaving the filters form,
// focus and scroll position as they are; never while someone is filling
// in a form of the page (typing a status update, a filter changed and
// not yet applied); it stops when the incident is gone (404), and once
// a form is sent. While news waits for a form so, an alert line says so.
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
  var swap = body.getAttribute("data-swap");
  if (!url) {
    return;
  }
  // typing reports whether someone is filling in a form of the page: a
  // field has the focus, or holds something other than what the page
  // came with (a status update written, a filter changed and not yet
  // applied). On the list (swap), focus alone holds nothing: the list is
  // put in place without touching its filters form, and a filter clicked
  // and left as it was keeps the focus until someone clicks elsewhere,
  // which on a screen nobody touches held the list still for good.
  function typing() {
    var a = document.activeElement;
    if (!swap && a && (a.tagName === "TEXTAREA" || a.tagName === "INPUT" || a.tagName === "SELECT")) {
      return true;
    }
    var boxes = document.querySelectorAll("textarea");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].value) {
        return true;
      }
    }
    var fields = document.querySelectorAll("input, select");
    for (var j = 0; j < fields.length; j++) {
      var f = fields[j];
      if (f.tagName === "SELECT") {
        // The page came with the option marked selected, else the first.
        var came = 0;
        for (var k = 0; k < f.options.length; k++) {
          if (f.options[k].defaultSelected) {
            came = k;
          }
        }
        if (f.options.length && f.selectedIndex !== came) {
          return true;
        }
      } else if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) {
          return true;
        }
      } else if (f.type !== "hidden" && f.value !== f.defaultValue) {
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
      return "You are no longer signed in: sign in again (reload the page) to see " +
        (swap ? "the incidents as they are" : "the incident as it is") + " now. This page may be out of date.";
    }
    if (r.status >= 500) {
      return "The incident store is not answering: this page may be out of date.";
    }
    return "pagerd refused to say whether " + (swap ? "the incidents" : "the incident") +
      " changed (HTTP " + r.status + "): this page may be out of date.";
  }
  // held is what the alert line says while news waits for a form.
  var held = swap ?
    "The incidents have changed since this list was shown: apply the filters, or put them back, to see them." :
    "The incident has changed since this page was shown: it refreshes once you send, clear or leave the form you are in.";
  function ask(u, ctl) {
    return fetch(u, { credentials: "same-origin", cache: "no-store", redirect: "manual", signal: ctl ? ctl.signal : undefined });
  }
  // replace fetches the page anew (its own URL: the same filters) and
  // puts its element swap in place of the one shown, taking the version
  // the new one was made at; the focus stays on the link it was on.
  // Whatever goes wrong, the alert line says; the version stays, so the
  // next turn tries again. The page is given up after patience
  // milliseconds, as the version is.
  function replace() {
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, patience) : null;
    return ask(window.location.pathname + window.location.search, ctl)
      .then(function (r) {
        if (!r.ok) {
          showStale(refusal(r));
          return null;
        }
        return r.text();
      })
      .then(function (html) {
        clearTimeout(timer);
        if (html === null) {
          return;
        }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(swap);
        var old = document.getElementById(swap);
        if (!fresh || !old) {
          showStale("pagerd answered with something other than the list: this page may be out of date.");
          return;
        }
        if (leaving || typing()) {
          return; // the version stays: asked again at the next turn
        }
        var a = document.activeElement;
        var href = a && a !== body && old.contains(a) ? a.getAttribute("href") : null;
        old.parentNode.replaceChild(document.adoptNode(fresh), old);
        version = doc.body.getAttribute("data-version") || version;
        if (href) {
          var links = fresh.querySelectorAll("a[href]");
          for (var i = 0; i < links.length; i++) {
            if (links[i].getAttribute("href") === href) {
              links[i].focus({ preventScroll: true });
              break;
            }
          }
        }
      }, function (err) {
        clearTimeout(timer);
        throw err;
      });
  }
  function poll() {
    if (leaving) {
      return;
    }
    // A request that hangs (a frozen replica) is given up after patience
    // milliseconds, answer and body both, and counts as no answer.
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var timer = ctl ? setTimeout(function () { ctl.abort(); }, patience) : null;
    ask(url, ctl)
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
          // News held back for a form being filled in is said, so that
          // a screen left with a filter changed and not applied does
          // not look up to date.
          showStale(v !== version && typing() ? held : "");
        }
        if (v && v !== version && !typing()) {
          if (!swap) {
            window.location.replace(window.location.pathname);
            return;
          }
          return replace().then(function () {
            if (!leaving) {
              setTimeout(poll, every);
            }
          });
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
