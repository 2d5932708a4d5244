/* ngcc112's live channel in the browser, shared by panel.js, dispatch.js and map.js.
   One websocket per channel of the server's live hub (/ws?channel=desk|dispatch), whoever on the
   page listens to it: reconnects with backoff, keeps the live badge (#live-status, rendered only
   on pages that keep a channel open) up to date, and fetches a page's own rendering again
   (X-Live-Refresh) when the socket says something changed. The server only pushes; each
   listener fetches state on every (re)connect, so nothing missed while offline stays missed. */
(function () {
  "use strict";
  var body = document.body;
  var channels = {};
  var FIRST_RETRY_MS = 250;
  var LAST_RETRY_MS = 5000;

  function setBadge(up) {
    var el = document.getElementById("live-status");
    body.dataset.live = up ? "up" : "down";
    if (!el) { return; }
    el.textContent = up ? body.dataset.labelLive : body.dataset.labelOffline;
    el.className = "live " + (up ? "online" : "offline");
  }

  function open(channel) {
    var state = { listeners: [], retry: FIRST_RETRY_MS, up: false, badge: false };
    function each(name, arg) {
      state.listeners.forEach(function (listener) { if (listener[name]) { listener[name](arg); } });
    }
    function connect() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + "/ws?channel=" + encodeURIComponent(channel));
      socket.onopen = function () {
        state.retry = FIRST_RETRY_MS;
        state.up = true;
        if (state.badge) { setBadge(true); }
        each("open");
      };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (e) { return; }
        each("message", message);
      };
      socket.onclose = function () {
        state.up = false;
        if (state.badge) { setBadge(false); }
        window.setTimeout(connect, state.retry);
        state.retry = Math.min(state.retry * 2, LAST_RETRY_MS);
      };
    }
    channels[channel] = state;
    connect();
    return state;
  }

  /* Listen to a channel: listener.open() on every (re)connect (at once if it is already open),
     listener.message(message) for each message the server pushes; with listener.badge the live
     badge shows whether this channel is open (the page's own channel, not a map's beside it). */
  function listen(channel, listener) {
    if (!window.WebSocket) { return; }
    var state = channels[channel] || open(channel);
    state.listeners.push(listener);
    if (listener.badge) {
      state.badge = true;
      setBadge(state.up);
    }
    if (state.up && listener.open) { listener.open(); }
  }

  /* This page's own rendering again, marked so it never takes a refused form's errors meant
     for the page after a redirect. */
  function fetchPage() {
    return fetch(location.pathname + location.search,
                 { credentials: "same-origin", headers: { "Accept": "text/html", "X-Live-Refresh": "1" } });
  }

  window.ngccLive = { listen: listen, fetchPage: fetchPage };
})();
