/* ngcc112 dispatch pages (dispatcher board, ticket, agency, ...): live updates over the dispatch
   channel (live.js).
   The server renders every piece of HTML. On every (re)connect and whenever the socket says
   something changed, the page fetches itself again and swaps its live regions
   ([data-live-region] by id). A form region ([data-form-region]) is swapped only when its
   data-version changed and nothing was typed into it, so typing is never thrown away.
   Elapsed times ([data-since]) tick every second and turn "overdue" past data-target.
   The board beeps (WebAudio, no sound file) when something new needs the dispatcher: a row
   with a data-action-key not seen before (awaiting dispatch, cannot handle, overdue).
   A time[data-local] is already in the center's time zone (server-rendered) and kept as is. */
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  var livePages = ["dispatch_board", "dispatch_ticket", "agency_list", "agency_dispatch", "callbacks"];
  var root = document.getElementById("live-root");
  var offset = 0;
  var busy = false;
  var refreshes = 0;
  var again = false;

  var known = null;  /* the board's action keys at the last look */
  var audio = null;
  /* How often the board looks again on its own: a dispatch turns overdue with no event at all. */
  var BOARD_REFRESH_MS = 15000;

  function actionKeys() {
    return Array.prototype.map.call(document.querySelectorAll("[data-action-key]"), function (el) {
      return el.dataset.actionKey;
    });
  }

  function unlockAudio() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return null; }
    try {
      if (!audio) { audio = new Context(); }
      if (audio.state === "suspended") { audio.resume(); }
    } catch (e) { audio = null; }
    return audio;
  }

  function beep() {
    body.dataset.beeps = String(parseInt(body.dataset.beeps || "0", 10) + 1);
    var ctx = unlockAudio();
    if (!ctx) { return; }
    try {
      var start = ctx.currentTime;
      [0, 0.25].forEach(function (delay) {
        var osc = ctx.createOscillator();
        var gain = ctx.createGain();
        osc.type = "square";
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.12, start + delay);
        gain.gain.exponentialRampToValueAtTime(0.001, start + delay + 0.2);
        osc.connect(gain);
        gain.connect(ctx.destination);
        osc.start(start + delay);
        osc.stop(start + delay + 0.2);
      });
    } catch (e) { /* no sound: the colour and the label still say it */ }
  }

  function checkNew() {
    if (page !== "dispatch_board") { return; }
    var keys = actionKeys();
    if (known !== null && keys.some(function (k) { return known.indexOf(k) < 0; })) { beep(); }
    known = keys;
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function setOffset(el) {
    var now = el && el.dataset.serverNow ? Date.parse(el.dataset.serverNow) : NaN;
    if (!isNaN(now)) { offset = now - Date.now(); }
  }

  function tick() {
    var now = Date.now() + offset;
    Array.prototype.forEach.call(document.querySelectorAll(".elapsed[data-since]"), function (el) {
      var since = Date.parse(el.dataset.since);
      if (isNaN(since)) { return; }
      var seconds = Math.max(0, Math.floor((now - since) / 1000));
      el.textContent = two(Math.floor(seconds / 60)) + ":" + two(seconds % 60);
      var target = parseFloat(el.dataset.target);
      var over = !isNaN(target) && seconds > target;
      el.classList.toggle("overdue", over);
      el.dataset.overdue = over ? "true" : "false";
      var row = el.closest("tr");
      if (row) { row.classList.toggle("overdue", over || row.querySelector(".elapsed.overdue") !== null); }
    });
  }

  function localTimes(scope) {
    Array.prototype.forEach.call(scope.querySelectorAll("time[datetime]"), function (el) {
      if (el.dataset.local) { return; }
      el.dataset.local = "1";
      var t = new Date(el.getAttribute("datetime"));
      if (isNaN(t.getTime())) { return; }
      el.textContent = t.getFullYear() + "-" + two(t.getMonth() + 1) + "-" + two(t.getDate()) +
        " " + two(t.getHours()) + ":" + two(t.getMinutes()) + ":" + two(t.getSeconds());
    });
  }

  function typedInto(region) {
    var fields = region.querySelectorAll("input, textarea, select");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === "hidden") { continue; }
      if (f.type === "checkbox" || f.type === "radio") {
        if (f.checked !== f.defaultChecked) { return true; }
      } else if (f.tagName === "SELECT") {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) { return true; }
        }
      } else if (f.value !== f.defaultValue) { return true; }
    }
    return false;
  }

  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    window.ngccLive.fetchPage()
      .then(function (r) {
        if (r.redirected && r.url.indexOf("/login") >= 0) { location.assign("/login"); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var template = document.createElement("template");
        template.innerHTML = html;
        var fresh = template.content;
        setOffset(fresh.getElementById("live-root"));
        Array.prototype.forEach.call(fresh.querySelectorAll("[data-live-region]"), function (next) {
          var old = document.getElementById(next.id);
          if (!old) { return; }
          if (old.hasAttribute("data-form-region") &&
              (old.dataset.version === next.dataset.version || typedInto(old))) { return; }
          old.replaceWith(next);
        });
        localTimes(document);
        tick();
        checkNew();
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        /* marks that the page is now what the live channel last said (the browser tests wait for it) */
        document.body.setAttribute("data-live-refreshed", String(++refreshes));
        if (again) { again = false; refresh(); }
      });
  }

  function concerns(message) {
    if (message.type === "resync" || message.type === "hello") { return true; }
    var ticket = root && root.dataset.ticketId;
    if (page === "dispatch_board" || page === "agency_list" || page === "callbacks") { return true; }
    if (!ticket) { return true; }
    return (message.ticket_ids || []).map(String).indexOf(ticket) >= 0;
  }

  /* One click, one request: a submitted form's buttons stay disabled until the page changes. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
      window.setTimeout(function () { b.disabled = true; }, 0);
    });
  });

  /* Back to a page kept in the browser's cache: its forms may be sent again. */
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("form[data-sent]"), function (form) {
      delete form.dataset.sent;
      Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) { b.disabled = false; });
    });
  });

  /* A refused form came back (post/redirect/get): say what was wrong first, where focus is. */
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }

  localTimes(document);
  /* A refused form comes back after a redirect with its errors summed up at the top: read them first. */
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }
  if (livePages.indexOf(page) < 0) {
    var status = document.getElementById("live-status");
    if (status) { status.hidden = true; }  /* nothing on this page is live */
    return;
  }
  setOffset(root);
  tick();
  window.setInterval(tick, 1000);
  if (page === "dispatch_board") {
    checkNew();
    window.setInterval(refresh, BOARD_REFRESH_MS);
    /* browsers play sound only after the person has used the page once */
    ["pointerdown", "keydown"].forEach(function (name) { document.addEventListener(name, unlockAudio, true); });
    /* the map was drawn while folded away: let it measure itself when opened */
    document.addEventListener("toggle", function (event) {
      if (event.target.id === "board-map-details" && event.target.open) { window.dispatchEvent(new Event("resize")); }
    }, true);
  }
  window.ngccLive.listen("dispatch", {
    badge: true,
    open: refresh,
    message: function (message) { if (message.type !== "hello" && concerns(message)) { refresh(); } }
  });
})();
