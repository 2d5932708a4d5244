/* ngcc112 operator panel: live updates (the desk channel, live.js), screen-pop, presence buttons, intake stopwatch.
   No framework, no build step. The server renders every piece of HTML; this file only
   fetches the rendered pieces when the websocket says something changed, and always
   once on every (re)connect so that nothing missed while offline stays missed. */
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  if (page !== "operator" && page !== "board") { return; }
  var csrf = body.dataset.csrf;
  var serverOffset = 0;
  var refreshing = null;
  var again = false;

  function handle(message) {
    if (message.type === "presence") { showPresence(message); }
    else if (message.type === "call") { refreshDesk(); }
    else if (message.type === "board") { refreshBoard(); }
    else if (message.type === "resync") { resync(); }
  }

  function resync() {
    if (page === "board") { refreshBoard(); return; }
    fetch("/api/me/state", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (r.status === 401) { location.assign("/login"); } return r.json(); })
      .then(function (state) { if (state.presence) { showPresence(state.presence); } })
      .catch(function () {});
    refreshDesk();
  }

  function showPresence(p) {
    var el = document.getElementById("presence-state");
    if (!el) { return; }
    el.textContent = p.label;
    el.dataset.state = p.presence;
    el.className = "state state-" + p.presence + (p.wrap_up ? " state-wrap-up" : "");
    el.dataset.wrapUp = p.wrap_up ? "true" : "false";
    var reason = document.getElementById("presence-reason");
    if (reason) {
      var select = document.getElementById("break-reason");
      var text = p.wrap_up ? "" : (p.pause_reason || "");
      if (select) {
        for (var i = 0; i < select.options.length; i++) {
          if (select.options[i].value === text) { text = select.options[i].textContent; }
        }
      }
      reason.textContent = text;
    }
  }

  function parse(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  /* The ticket whose intake form is on screen ("" when the desk is idle). */
  function formTicket() {
    var active = document.getElementById("active");
    return active && active.querySelector("#intake") ? active.dataset.ticketId : "";
  }

  /* Bring the desk up to date with the server's rendering, but never replace the form on
     screen: a new call rings, and then waits, in the fixed bar at the top; the operator
     switches to it deliberately. Only an idle desk takes the new call's form at once. */
  function refreshDesk() {
    if (refreshing) { again = true; return; }
    var shown = formTicket();
    refreshing = fetch("/panel/call" + (shown ? "?ticket=" + encodeURIComponent(shown) : ""),
                       { credentials: "same-origin" })
      .then(function (r) { if (r.status === 401) { location.assign("/login"); } return r.text(); })
      .then(function (html) {
        var desk = document.getElementById("desk");
        var newDesk = parse(html).getElementById("desk");
        if (!desk || !newDesk) { return; }
        clock(newDesk.dataset.serverNow);
        ["#callbar", "#wrapup", "#pending"].forEach(function (sel) {
          var old = desk.querySelector(sel), fresh = newDesk.querySelector(sel);
          if (old && fresh) { old.replaceWith(fresh); }
        });
        var oldFollow = desk.querySelector("#followup"), newFollow = newDesk.querySelector("#followup");
        if (oldFollow && newFollow && oldFollow.dataset.ticketId === newFollow.dataset.ticketId) {
          swapCard(oldFollow, newFollow);
        } else if (oldFollow && !newFollow) {
          oldFollow.remove();
        } else if (newFollow) {
          if (oldFollow) { oldFollow.replaceWith(newFollow); }
          else { desk.querySelector("#active").before(newFollow); }
          watchDrafts(newFollow);
        }
        var oldActive = desk.querySelector("#active");
        var newActive = newDesk.querySelector("#active");
        var form = oldActive.querySelector("#intake");
        if (form && oldActive.dataset.ticketId === newActive.dataset.ticketId) {
          oldActive.querySelector(".call-head").replaceWith(newActive.querySelector(".call-head"));
          swapCard(oldActive, newActive);
        } else {
          var wasIdle = !form;
          oldActive.replaceWith(newActive);
          watchDrafts(newActive);
          var first = newActive.querySelector("#intake input[name=verdict]");
          if (first && wasIdle) { first.focus(); }
        }
        callbar();
        tick();
      })
      .catch(function () {})
      .then(function () {
        refreshing = null;
        if (again) { again = false; refreshDesk(); }
      });
  }

  /* The caller card, fresh from the server; the map stays unfolded if the operator unfolded it. */
  function swapCard(oldRoot, newRoot) {
    var oldCard = oldRoot.querySelector(".caller-card"), newCard = newRoot.querySelector(".caller-card");
    if (!oldCard || !newCard) { return; }
    var was = oldCard.querySelector("details.map-details");
    var now = newCard.querySelector("details.map-details");
    if (was && now && was.open) { now.open = true; }
    oldCard.replaceWith(newCard);
  }

  /* -- the call bar: fixed on screen, with a sound and (if allowed) a desktop notification -- */
  var announced = {};
  function callbar() {
    ringingTitle();
    var bar = document.getElementById("callbar");
    var main = document.getElementById("main");
    var height = bar ? bar.offsetHeight : 0;
    if (main) { main.style.paddingTop = height ? (height + 8) + "px" : ""; }
    /* the sticky stopwatch stays below the bar, never under it */
    document.documentElement.style.setProperty("--callbar", height + "px");
    var calls = document.querySelectorAll("#callbar .popup[data-call-id]");
    Array.prototype.forEach.call(calls, function (el) {
      var key = el.className + ":" + el.dataset.callId;
      if (announced[key]) { return; }
      announced[key] = true;
      beep();
      notify(el);
    });
  }

  var audio = null;
  function beep() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return; }
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
      [0, 0.35, 0.7].forEach(function (at) {
        var osc = audio.createOscillator(), gain = audio.createGain();
        osc.type = "square";
        osc.frequency.value = 880;
        gain.gain.value = 0.15;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(audio.currentTime + at);
        osc.stop(audio.currentTime + at + 0.2);
      });
      body.dataset.beeps = String((parseInt(body.dataset.beeps || "0", 10) || 0) + 1);
    } catch (e) { /* no sound device: the bar and the title still show the call */ }
  }

  function notify(el) {
    if (!("Notification" in window) || Notification.permission !== "granted") { return; }
    var desk = document.getElementById("desk");
    var number = el.querySelector(".caller-number");
    try {
      new Notification((desk && desk.dataset.labelRinging) || "112",
                       { body: number ? number.textContent.trim() : "", tag: "ngcc112-" + el.dataset.callId });
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }

  /* Browsers start sound only after a gesture: the first click or key on the page unlocks it. */
  function unlockAudio() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return; }
      audio = audio || new Context();
      if (audio.state === "suspended") { audio.resume(); }
    } catch (e) { /* no sound device */ }
  }
  document.addEventListener("click", unlockAudio, { once: true, capture: true });
  document.addEventListener("keydown", unlockAudio, { once: true, capture: true });

  function askNotifications() {
    if ("Notification" in window && Notification.permission === "default") {
      try { Notification.requestPermission(); } catch (e) { /* old API: ignore */ }
    }
  }

  /* -- drafts: every keystroke reaches the server (debounced), so nothing typed is lost -- */
  var pendingDrafts = {};
  var draftTimers = {};
  var DRAFT_DELAY = 400;

  function draftValues(form) {
    var values = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token" || el.name === "action") { return; }
      if (el.type === "radio") { if (el.checked) { values[el.name] = el.value; } return; }
      values[el.name] = el.value;
    });
    if (form.querySelector("input[name=verdict]") && !("verdict" in values)) { values.verdict = ""; }
    return values;
  }

  function saveDraft(form, keepalive) {
    var id = form.dataset.draft;
    if (!id) { return Promise.resolve(); }
    window.clearTimeout(draftTimers[id]);
    delete pendingDrafts[id];
    var state = form.querySelector(".draft-state");
    var desk = document.getElementById("desk");
    return fetch("/api/tickets/" + encodeURIComponent(id) + "/draft", {
      method: "POST", credentials: "same-origin", keepalive: !!keepalive,
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(draftValues(form))
    }).then(function (r) {
      form.dataset.saved = r.ok ? "yes" : "no";
      if (state && desk) { state.textContent = r.ok ? desk.dataset.labelSaved : desk.dataset.labelUnsaved; }
    }).catch(function () {
      form.dataset.saved = "no";
      if (state && desk) { state.textContent = desk.dataset.labelUnsaved; }
    });
  }

  function scheduleDraft(form) {
    var id = form.dataset.draft;
    form.dataset.saved = "pending";
    pendingDrafts[id] = form;
    window.clearTimeout(draftTimers[id]);
    draftTimers[id] = window.setTimeout(function () { saveDraft(form); }, DRAFT_DELAY);
  }

  function flushDrafts(keepalive) {
    var waits = [];
    Object.keys(pendingDrafts).forEach(function (id) { waits.push(saveDraft(pendingDrafts[id], keepalive)); });
    return Promise.all(waits);
  }

  function watchDrafts(root) {
    Array.prototype.forEach.call(root.querySelectorAll("form[data-draft]"), function (form) {
      if (form.dataset.watched) { return; }
      form.dataset.watched = "1";
      form.addEventListener("input", function () { scheduleDraft(form); });
      form.addEventListener("change", function (event) {
        if (event.target.name === "verdict") { presetNote(form, event.target); }
        scheduleDraft(form);
      });
      // the form's own post keeps what was typed: no autosave may race it or follow it
      form.addEventListener("submit", function () {
        window.clearTimeout(draftTimers[form.dataset.draft]);
        delete pendingDrafts[form.dataset.draft];
      });
    });
  }

  /* Ghost, prank and information calls close with a preset note the operator may change. */
  function presetNote(form, radio) {
    var note = form.querySelector("#note");
    if (!note || !radio.dataset.note) { return; }
    var presets = Array.prototype.map.call(form.querySelectorAll("input[name=verdict]"),
                                           function (r) { return r.dataset.note || ""; });
    if (note.value.trim() === "" || presets.indexOf(note.value) >= 0) { note.value = radio.dataset.note; }
  }

  /* Links that leave the form (switch to the new call, open a pending intake) save it first. */
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-flush]") : null;
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey) { return; }
    event.preventDefault();
    flushDrafts(true).then(function () { location.assign(link.href); });
  });
  window.addEventListener("pagehide", function () { flushDrafts(true); });

  /* One key each: Alt+N / G / P / I the call type, Alt+S submit, Alt+W switch to the new call. */
  document.addEventListener("keydown", function (event) {
    if (!event.altKey || event.ctrlKey || event.metaKey) { return; }
    var letter = (event.code || "").replace(/^Key/, "");
    var form = document.getElementById("intake");
    if (letter === "W") {
      var to = document.getElementById("switch-call");
      if (to) { event.preventDefault(); to.click(); }
      return;
    }
    if (!form) { return; }
    if (letter === "S") {
      event.preventDefault();
      var submit = form.querySelector("#intake-submit");
      if (form.requestSubmit) { form.requestSubmit(submit); } else { submit.click(); }
      return;
    }
    var radio = form.querySelector("input[name=verdict][data-key='" + letter + "']");
    if (!radio) { return; }
    event.preventDefault();
    radio.checked = true;
    radio.dispatchEvent(new Event("change", { bubbles: true }));
    if (radio.value === "normal") {
      var name = form.querySelector("#caller_name");
      if (name) { name.focus(); name.select(); }
    } else {
      radio.focus();
    }
  });

  /* After a refused submit the page opens on the list of problems. */
  function focusErrors() {
    var summary = document.getElementById("error-summary") || document.getElementById("desk-error");
    if (summary) { summary.focus(); }
  }

  /* After-call work: how long until new calls ring again. */
  function wrapupLeft() {
    var info = document.getElementById("wrapup-active");
    var left = document.getElementById("wrapup-left");
    if (!info || !left) { return; }
    var until = Date.parse(info.dataset.until);
    if (isNaN(until)) { return; }
    var seconds = Math.max(0, Math.ceil((until - Date.now() - serverOffset) / 1000));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    left.textContent = m + ":" + (s < 10 ? "0" : "") + s;
  }

  var boardBusy = false, boardAgain = false;
  /* A ringing call shows in the tab's title too, for an operator looking at another window. */
  var baseTitle = document.title;
  function ringingTitle() {
    var number = document.querySelector("#ringing .caller-number");
    document.title = number ? "\u260E " + number.textContent.trim() + " \u00B7 " + baseTitle : baseTitle;
  }

  function refreshBoard() {
    if (boardBusy) { boardAgain = true; return; }
    boardBusy = true;
    fetch("/panel/board", { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var board = document.getElementById("board");
        var fresh = parse(html).getElementById("board");
        if (board && fresh) { board.replaceWith(fresh); }
      })
      .catch(function () {})
      .then(function () {
        boardBusy = false;
        if (boardAgain) { boardAgain = false; refreshBoard(); }
      });
  }

  function clock(serverNow) {
    var t = Date.parse(serverNow || "");
    if (!isNaN(t)) { serverOffset = t - Date.now(); }
  }

  /* Stopwatch: time since the operator answered, against the SOP's 60 s intake target. */
  function tick() {
    wrapupLeft();
    var el = document.getElementById("stopwatch");
    if (!el) { return; }
    var since = Date.parse(el.dataset.since);
    if (isNaN(since)) { return; }
    var seconds = Math.max(0, Math.floor((Date.now() + serverOffset - since) / 1000));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    el.textContent = (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
    var desk = document.getElementById("desk");
    var target = desk ? parseInt(desk.dataset.intakeTarget, 10) : 60;
    el.classList.toggle("over", seconds >= target);
  }

  /* Presence buttons: send through the API, show what Asterisk then reports. */
  function presenceForms() {
    var forms = document.querySelectorAll("form[data-presence]");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var data = new FormData(form);
        var payload = { presence: data.get("presence") };
        if (data.get("reason")) { payload.reason = data.get("reason"); }
        var error = document.getElementById("presence-error");
        var buttons = form.querySelectorAll("button");
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
        fetch("/api/me/presence", {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json",
                     "X-CSRF-Token": csrf },
          body: JSON.stringify(payload)
        }).then(function (r) {
          return r.json().then(function (answer) { return { ok: r.ok, answer: answer }; });
        }).then(function (result) {
          if (result.ok) {
            error.hidden = true;
            showPresence(result.answer.presence);
          } else {
            error.textContent = result.answer.error || body.dataset.labelFailed;
            error.hidden = false;
          }
        }).catch(function () {
          error.textContent = body.dataset.labelFailed;
          error.hidden = false;
        }).then(function () {
          Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        });
      });
    });
  }

  /* Times are rendered in UTC by the server; show them in the browser's time zone. */
  function localTimes(root) {
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), function (el) {
      if (el.dataset.local) { return; }
      el.dataset.local = "1";
      var t = new Date(el.getAttribute("datetime"));
      if (isNaN(t.getTime())) { return; }
      el.textContent = t.getFullYear() + "-" + two(t.getMonth() + 1) + "-" + two(t.getDate()) +
        " " + two(t.getHours()) + ":" + two(t.getMinutes());
    });
  }
  /* The map and the position form wait folded until wanted; a new position to accept unfolds
     them, and unfolding lets the map measure itself again (Leaflet follows window resizes). */
  document.addEventListener("toggle", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("details.map-details") && el.open) {
      /* later than map.js's own scan (which retires the maps of replaced cards), and only
         for a card still on the page: a resize must never reach a map being taken down */
      window.setTimeout(function () {
        if (document.contains(el) && el.open) { window.dispatchEvent(new Event("resize")); }
      }, 50);
    }
  }, true);
  function unfoldForNews(root) {
    Array.prototype.forEach.call(root.querySelectorAll("details.map-details:not([open])"), function (d) {
      if (d.querySelector(".loc-new-banner")) { d.open = true; }
    });
  }
  new MutationObserver(function () { localTimes(document); unfoldForNews(document); })
    .observe(document.getElementById("main") || body, { childList: true, subtree: true });
  localTimes(document);

  var desk = document.getElementById("desk");
  if (desk) { clock(desk.dataset.serverNow); watchDrafts(desk); callbar(); }
  var ready = document.getElementById("go-ready");
  if (ready) { ready.addEventListener("click", askNotifications); }
  focusErrors();
  presenceForms();
  window.setInterval(tick, 250);
  tick();
  window.ngccLive.listen("desk", { badge: true, open: resync, message: handle });
}());
