/* ngcc112 operator panel: live updates, screen-pop, presence buttons, intake stopwatch.
   No framework, no build step. The server renders every piece of HTML; this file only
   fetches the rendered pieces when the websocket says something changed, and always
   once on every (re)connect so that nothing missed while offline stays missed. */
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  if (page !== "operator" && page !== "board") { return; }
  var csrf = body.dataset.csrf;
  var retry = 250;
  var serverOffset = 0;
  var refreshing = null;
  var again = false;

  function setLive(up) {
    var el = document.getElementById("live-status");
    body.dataset.live = up ? "up" : "down";
    if (!el) { return; }
    el.textContent = up ? body.dataset.labelLive : body.dataset.labelOffline;
    el.className = "live " + (up ? "online" : "offline");
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + location.host + "/ws");
    socket.onopen = function () { retry = 250; setLive(true); resync(); };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message);
    };
    socket.onclose = function () {
      setLive(false);
      window.setTimeout(connect, retry);
      retry = Math.min(retry * 2, 5000);
    };
  }

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
    el.className = "state state-" + p.presence;
    var reason = document.getElementById("presence-reason");
    if (reason) {
      var select = document.getElementById("break-reason");
      var text = p.pause_reason || "";
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

  /* Replace the desk with the server's rendering, but never throw away what the operator typed:
     while the same ticket's form is on screen, only the header and the caller card are swapped. */
  function refreshDesk() {
    if (refreshing) { again = true; return; }
    refreshing = fetch("/panel/call", { credentials: "same-origin" })
      .then(function (r) { if (r.status === 401) { location.assign("/login"); } return r.text(); })
      .then(function (html) {
        var desk = document.getElementById("desk");
        var newDesk = parse(html).getElementById("desk");
        if (!desk || !newDesk) { return; }
        clock(newDesk.dataset.serverNow);
        desk.querySelector("#ringing").replaceWith(newDesk.querySelector("#ringing"));
        ringingTitle();
        var oldActive = desk.querySelector("#active");
        var newActive = newDesk.querySelector("#active");
        var form = oldActive.querySelector("#intake");
        if (form && newActive.querySelector("#intake") &&
            oldActive.dataset.ticketId === newActive.dataset.ticketId) {
          oldActive.querySelector(".call-head").replaceWith(newActive.querySelector(".call-head"));
          oldActive.querySelector(".caller-card").replaceWith(newActive.querySelector(".caller-card"));
        } else {
          oldActive.replaceWith(newActive);
          var first = newActive.querySelector("#intake input[name=verdict]");
          if (first) { first.focus(); }
        }
        tick();
      })
      .catch(function () {})
      .then(function () {
        refreshing = null;
        if (again) { again = false; refreshDesk(); }
      });
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
  new MutationObserver(function () { localTimes(document); })
    .observe(document.getElementById("main") || body, { childList: true, subtree: true });
  localTimes(document);

  var desk = document.getElementById("desk");
  if (desk) { clock(desk.dataset.serverNow); }
  presenceForms();
  window.setInterval(tick, 250);
  tick();
  connect();
}());
