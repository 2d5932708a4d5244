/* ngcc112: the caller's position on a map (Leaflet, vendored) beside the same facts as text.
   No framework, no build step. The server renders the text (/panel/tickets/<id>/location); this
   file draws what that text says: one marker per fix, the uncertainty circle (radius_m), the
   accepted fix highlighted. Without tiles (none configured, or the tile server failing) the
   circle is drawn on a plain background and the text is unchanged.
   A ticket's container (section.loc[data-loc-ticket]) may be replaced by the page's own script
   at any moment (the screen-pop is re-rendered on every ticket change): what was typed, the map's
   view and the last fixes are kept per ticket and given to the new container. Live: a websocket
   (the dispatch channel, live.js) says which tickets changed; we fetch those again (and every 30 s regardless). */
(function () {
  "use strict";
  if (window.ngcc112LocationMap) { return; }
  window.ngcc112LocationMap = true;
  var Lf = window.L || null;
  var body = document.body;
  var csrf = body.dataset.csrf || "";
  var offset = 0;
  var entries = [];
  var memory = {};
  var socketStarted = false;
  var POLL_MS = 30000;
  var AGE_MS = 5000;

  function mem(id) { return memory[id] || (memory[id] = { typed: {} }); }

  function serverClock(value) {
    var t = Date.parse(value || "");
    if (!isNaN(t)) { offset = t - Date.now(); }
  }

  function fmt(template, n) { return String(template || "").replace("%(n)d", String(n)); }

  function ageText(seconds, labels) {
    if (seconds < -60) { return labels.labelAhead; }
    if (seconds < 45) { return labels.labelNow; }
    var minutes = Math.floor(seconds / 60);
    if (minutes < 2) { return labels.labelMin1; }
    if (minutes < 60) { return fmt(labels.labelMins, minutes); }
    if (minutes < 48 * 60) { return fmt(labels.labelHours, Math.floor(minutes / 60)); }
    return fmt(labels.labelDays, Math.floor(minutes / 1440));
  }

  function tickAges() {
    var now = Date.now() + offset;
    Array.prototype.forEach.call(document.querySelectorAll("[data-age][data-at]"), function (el) {
      var at = Date.parse(el.dataset.at);
      var holder = el.closest("[data-label-now]");
      if (isNaN(at) || !holder) { return; }
      var text = ageText((now - at) / 1000, holder.dataset);
      if (el.textContent !== text) { el.textContent = text; }
    });
  }

  /* -- the map ------------------------------------------------------------------------- */

  function tilesDown(entry) {
    var note = entry.el.querySelector(".loc-tiles-failed");
    entry.mapEl.classList.add("loc-tiles-down");
    if (note && note.hidden) { note.textContent = entry.el.dataset.labelTilesFailed; note.hidden = false; }
  }

  function makeMap(entry) {
    if (!Lf || !entry.mapEl) { return null; }
    var map = Lf.map(entry.mapEl, { attributionControl: false, zoomControl: false, zoomSnap: 0.5 });
    Lf.control.zoom({ zoomInTitle: entry.el.dataset.labelZoomIn, zoomOutTitle: entry.el.dataset.labelZoomOut }).addTo(map);
    map.setView([-2.5, 118.0], 4);  /* Indonesia, until a fix is drawn */
    Lf.control.scale({ imperial: false }).addTo(map);
    var url = entry.el.dataset.tileUrl;
    if (url) {
      var loaded = 0;
      var tiles = Lf.tileLayer(url, { maxZoom: 19, crossOrigin: false });
      tiles.on("tileload", function () { loaded += 1; });
      tiles.on("tileerror", function () { if (loaded === 0) { tilesDown(entry); } });
      tiles.addTo(map);
    }
    entry.layer = Lf.featureGroup().addTo(map);
    return map;
  }

  /* A labelled badge standing above its point (the circle underneath stays visible). */
  function badge(kind, text, size) {
    var span = document.createElement("span");
    span.textContent = text;
    return Lf.divIcon({ className: "loc-marker loc-marker-" + kind, html: span, iconSize: size,
                        iconAnchor: [size[0] / 2, size[1] + 8] });
  }

  function dot(latlng, kind) {
    return Lf.circleMarker(latlng, { radius: 4, className: "loc-dot loc-dot-" + kind, weight: 2,
                                     fillOpacity: 1, interactive: false });
  }

  function fixKind(li) {
    if (li.dataset.accepted === "true") { return "accepted"; }
    if (li.dataset.candidate === "true") { return "candidate"; }
    return "superseded";
  }

  function drawTicket(entry) {
    if (!entry.map) { return; }
    var m = mem(entry.id);
    var map = entry.map;
    map.invalidateSize(false);
    entry.layer.clearLayers();
    var points = [];
    var signature = [];
    Array.prototype.forEach.call(entry.el.querySelectorAll(".loc-live .loc-fix"), function (li) {
      var lat = parseFloat(li.dataset.lat), lon = parseFloat(li.dataset.lon);
      var kind = fixKind(li);
      if (isNaN(lat) || isNaN(lon) || kind === "superseded") { return; }
      signature.push(li.dataset.fixId + kind);
      var radius = parseFloat(li.dataset.radius);
      if (!isNaN(radius) && radius > 0) {
        var circle = Lf.circle([lat, lon], {
          radius: radius, className: "loc-circle loc-circle-" + kind, weight: kind === "accepted" ? 3 : 2,
          fillOpacity: kind === "accepted" ? 0.18 : 0.08, dashArray: kind === "candidate" ? "6 4" : null,
          interactive: false
        });
        entry.layer.addLayer(circle);
        var b = circle.getBounds();
        points.push(b.getNorthWest(), b.getSouthEast());
      }
      var marker = Lf.marker([lat, lon], {
        icon: badge(kind, li.dataset.short || li.dataset.source, kind === "accepted" ? [64, 28] : [52, 22]),
        title: (li.querySelector(".loc-source") || li).textContent + " " +
               (li.querySelector(".loc-coords") || li).textContent,
        keyboard: false, zIndexOffset: kind === "accepted" ? 1000 : 0
      });
      marker.on("click", function () { li.scrollIntoView({ block: "nearest" }); });
      entry.layer.addLayer(dot([lat, lon], kind));
      entry.layer.addLayer(marker);
      points.push(Lf.latLng(lat, lon));
    });
    if (m.picked) {
      entry.layer.addLayer(dot(m.picked, "picked"));
      entry.layer.addLayer(Lf.marker(m.picked, { icon: badge("picked", "+", [26, 22]), keyboard: false }));
    }
    var sig = signature.join(",");
    if (points.length && sig !== m.sig) {
      map.fitBounds(Lf.latLngBounds(points), { maxZoom: 18, padding: [36, 24], animate: false });
      m.sig = sig;
      m.view = null;
    } else if (m.view) {
      map.setView(m.view.center, m.view.zoom, { animate: false });
    } else if (points.length) {
      map.fitBounds(Lf.latLngBounds(points), { maxZoom: 18, padding: [36, 24], animate: false });
    }
  }

  /* -- one ticket ---------------------------------------------------------------------- */

  function initTicket(el) {
    var id = el.dataset.locTicket;
    var m = mem(id);
    var entry = { el: el, id: id, kind: "ticket", mapEl: el.querySelector(".loc-map"), map: null, layer: null };
    entry.map = makeMap(entry);
    var live = el.querySelector(".loc-live");
    if (m.html && live && !live.querySelector(".loc-fixes")) {
      var kept = document.createElement("template");
      kept.innerHTML = m.html;
      live.replaceChildren(kept.content);
      entry.key = m.key;  /* what this container shows; a fetch replaces it only when different */
    }
    var form = el.querySelector("form[data-loc-manual]");
    if (form) {
      ["latitude", "longitude", "address"].forEach(function (name) {
        var input = form.elements[name];
        if (!input) { return; }
        if (m.typed[name] !== undefined && input.value === input.defaultValue) { input.value = m.typed[name]; }
        input.addEventListener("input", function () {
          m.typed[name] = input.value;
          if (name !== "address" && m.picked) { m.picked = null; drawTicket(entry); }  /* typed over the pick */
        });
      });
    }
    if (entry.map) {
      entry.map.on("click", function (event) { pick(entry, event.latlng); });
      entry.map.on("moveend", function () {
        if (m.sig !== undefined) { m.view = { center: entry.map.getCenter(), zoom: entry.map.getZoom() }; }
      });
    }
    entries.push(entry);
    drawTicket(entry);
    load(entry);
  }

  function pick(entry, latlng) {
    var form = entry.el.querySelector("form[data-loc-manual]");
    if (!form) { return; }
    var m = mem(entry.id);
    form.elements.latitude.value = latlng.lat.toFixed(6);
    form.elements.longitude.value = latlng.lng.toFixed(6);
    m.typed.latitude = form.elements.latitude.value;
    m.typed.longitude = form.elements.longitude.value;
    m.picked = [latlng.lat, latlng.lng];
    fieldErrors(form, {});
    var summary = form.querySelector(".loc-form-error");
    if (summary) { summary.hidden = true; }
    var hint = form.querySelector(".loc-hint");
    if (hint) {
      if (!hint.dataset.text) { hint.dataset.text = hint.textContent; }
      hint.textContent = entry.el.dataset.labelPicked;
    }
    var view = { center: entry.map.getCenter(), zoom: entry.map.getZoom() };
    drawTicket(entry);
    entry.map.setView(view.center, view.zoom, { animate: false });
  }

  function load(entry) {
    if (entry.busy) { entry.again = true; return; }
    entry.busy = true;
    var done = function () {
      entry.busy = false;
      if (entry.again) { entry.again = false; load(entry); }
    };
    if (entry.kind === "board") { loadBoard(entry).then(done, done); return; }
    fetch(entry.el.dataset.locSrc, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.text();
      })
      .then(function (html) {
        var template = document.createElement("template");
        template.innerHTML = html;
        var fresh = template.content.querySelector(".loc-fixes");
        var live = entry.el.querySelector(".loc-live");
        if (!fresh || !live) { return; }
        serverClock(fresh.dataset.serverNow);
        /* Unchanged but for the ages: keep what is on screen (no alert read out again, no redraw). */
        var key = fresh.outerHTML.replace(/(<span class="loc-age"[^>]*>)[^<]*/g, "$1")
          .replace(/data-server-now="[^"]*"/, "");
        var m = mem(entry.id);
        if (key === entry.key && live.querySelector(".loc-fixes")) { tickAges(); return; }
        entry.key = m.key = key;
        m.html = fresh.outerHTML;
        live.replaceChildren(fresh);
        entry.el.dataset.locLoaded = "true";
        drawTicket(entry);
        tickAges();
      })
      .catch(function () {
        var live = entry.el.querySelector(".loc-live .loc-loading");
        if (live) { live.textContent = entry.el.dataset.labelOffline; }
      })
      .then(done, done);
  }

  /* -- actions ------------------------------------------------------------------------- */

  function post(url, payload) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (answer) {
        return { ok: r.ok, status: r.status, answer: answer };
      });
    });
  }

  function entryOf(node) {
    var el = node.closest("section.loc[data-loc-ticket]");
    for (var i = 0; i < entries.length; i++) { if (entries[i].el === el) { return entries[i]; } }
    return null;
  }

  function showActionError(entry, text) {
    var box = entry.el.querySelector(".loc-action-error");
    if (!box) { return; }
    box.textContent = text || "";
    box.hidden = !text;
  }

  function setBusy(form, busy) {
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = busy; });
  }

  function submitAccept(form, entry) {
    setBusy(form, true);
    post("/api/tickets/" + entry.id + "/location/accept", { fix_id: Number(form.elements.fix_id.value) })
      .then(function (result) {
        showActionError(entry, result.ok ? "" : (result.answer.error || entry.el.dataset.labelFailed));
      }, function () { showActionError(entry, entry.el.dataset.labelFailed); })
      .then(function () { setBusy(form, false); load(entry); });
  }

  function fieldErrors(form, errors) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-error-for]"), function (p) {
      var name = p.dataset.errorFor;
      var input = form.elements[name];
      var text = errors && errors[name];
      p.textContent = text || "";
      p.hidden = !text;
      if (input) {
        if (text) { input.setAttribute("aria-invalid", "true"); } else { input.removeAttribute("aria-invalid"); }
      }
    });
  }

  function submitManual(form, entry) {
    var m = mem(entry.id);
    var summary = form.querySelector(".loc-form-error");
    var payload = {
      latitude: form.elements.latitude.value, longitude: form.elements.longitude.value,
      address: form.elements.address.value
    };
    setBusy(form, true);
    post("/api/tickets/" + entry.id + "/location/manual", payload).then(function (result) {
      if (result.ok) {
        fieldErrors(form, {});
        summary.hidden = true;
        ["latitude", "longitude", "address"].forEach(function (name) { form.elements[name].value = ""; });
        m.typed = {};
        m.picked = null;
        var hint = form.querySelector(".loc-hint");
        if (hint && hint.dataset.text) { hint.textContent = hint.dataset.text; }
        load(entry);
        return;
      }
      fieldErrors(form, result.answer.errors || {});
      summary.textContent = result.answer.error || entry.el.dataset.labelFailed;
      summary.hidden = false;
      var first = form.querySelector("[aria-invalid=true]");
      if (first) { first.focus(); }
    }, function () {
      summary.textContent = entry.el.dataset.labelFailed;
      summary.hidden = false;
    }).then(function () { setBusy(form, false); });
  }

  /* Capture phase: our forms go through the JSON API; the page's own submit handlers never see them. */
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-loc-accept], form[data-loc-manual]")) { return; }
    var entry = entryOf(form);
    if (!entry) { return; }  /* not initialised (no script state): the plain form post works */
    event.preventDefault();
    event.stopPropagation();
    if (form.hasAttribute("data-loc-accept")) { submitAccept(form, entry); } else { submitManual(form, entry); }
  }, true);

  /* -- the dispatcher's board map ------------------------------------------------------ */

  function initBoard(el) {
    var entry = { el: el, kind: "board", id: "board", mapEl: el.querySelector(".loc-map"), map: null, layer: null };
    entry.map = makeMap(entry);
    entries.push(entry);
    load(entry);
  }

  function loadBoard(entry) {
    return fetch(entry.el.dataset.locBoard, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        serverClock(data.server_now);
        var ds = entry.el.dataset;
        var list = entry.el.querySelector(".loc-board-list");
        var none = entry.el.querySelector(".loc-board-none");
        var count = entry.el.querySelector(".loc-board-count");
        var incidents = data.incidents || [];
        if (count) { count.textContent = String(incidents.length); }
        if (none) { none.hidden = incidents.length > 0; }
        var items = [];
        var points = [];
        if (entry.layer) { entry.layer.clearLayers(); }
        incidents.forEach(function (inc) {
          var li = document.createElement("li");
          li.className = "loc-board-item";
          li.dataset.ticketId = String(inc.ticket_id);
          var link = document.createElement("a");
          link.href = "/dispatch/tickets/" + inc.ticket_id;
          link.textContent = ds.labelTicket + " #" + inc.ticket_id;
          var coords = document.createElement("span");
          coords.className = "loc-coords";
          coords.textContent = " · " + inc.latitude.toFixed(5) + ", " + inc.longitude.toFixed(5) + " · " +
            (inc.radius_m !== null ? "± " + Math.round(inc.radius_m) + " " + ds.labelM : ds.labelUnknown) + " · ";
          var age = document.createElement("span");
          age.className = "loc-age";
          age.dataset.at = inc.time;
          age.setAttribute("data-age", "");
          li.append(link, coords, age);
          items.push(li);
          if (entry.map) {
            if (inc.radius_m) {
              var circle = Lf.circle([inc.latitude, inc.longitude], {
                radius: inc.radius_m, className: "loc-circle loc-circle-accepted", weight: 2,
                fillOpacity: 0.15, interactive: false });
              entry.layer.addLayer(circle);
              var b = circle.getBounds();
              points.push(b.getNorthWest(), b.getSouthEast());
            }
            var marker = Lf.marker([inc.latitude, inc.longitude], {
              icon: badge("accepted", "#" + inc.ticket_id, [64, 28]), keyboard: false,
              title: ds.labelTicket + " #" + inc.ticket_id });
            marker.on("click", function () { window.location.assign(link.href); });
            entry.layer.addLayer(dot([inc.latitude, inc.longitude], "accepted"));
            entry.layer.addLayer(marker);
            points.push(Lf.latLng(inc.latitude, inc.longitude));
          }
        });
        if (list) { list.replaceChildren.apply(list, items); }
        if (entry.map) {
          entry.map.invalidateSize(false);
          var sig = incidents.map(function (i) { return i.ticket_id + ":" + i.latitude + ":" + i.longitude; }).join(",");
          if (points.length && sig !== entry.sig) {
            entry.map.fitBounds(Lf.latLngBounds(points), { maxZoom: 15, padding: [48, 48], animate: false });
          }
          entry.sig = sig;
        }
        entry.el.dataset.locLoaded = "true";
        tickAges();
      });
  }

  /* -- discovery, cleanup, live ---------------------------------------------------------- */

  function scan() {
    entries = entries.filter(function (entry) {
      if (document.contains(entry.el)) { return true; }
      if (entry.map) {
        var m = entry.kind === "ticket" ? mem(entry.id) : null;
        if (m && m.sig !== undefined) { m.view = { center: entry.map.getCenter(), zoom: entry.map.getZoom() }; }
        entry.map.remove();
      }
      return false;
    });
    var found = false;
    Array.prototype.forEach.call(document.querySelectorAll("section.loc[data-loc-ticket]"), function (el) {
      if (el.dataset.locReady) { return; }
      el.dataset.locReady = "1";
      initTicket(el);
      found = true;
    });
    Array.prototype.forEach.call(document.querySelectorAll("section.loc-board[data-loc-board]"), function (el) {
      if (el.dataset.locReady) { return; }
      el.dataset.locReady = "1";
      initBoard(el);
      found = true;
    });
    if (found) { tickAges(); startSocket(); }
  }

  var scanQueued = false;
  function queueScan() {
    if (scanQueued) { return; }
    scanQueued = true;
    window.setTimeout(function () { scanQueued = false; scan(); }, 0);
  }

  function reload(ticketIds) {
    entries.forEach(function (entry) {
      var concerned = !ticketIds ||
        (entry.kind === "board" ? ticketIds.length > 0 : ticketIds.indexOf(String(entry.id)) >= 0);
      if (concerned) { load(entry); }
    });
  }

  /* The dispatch channel: every role may listen; staff hear of every ticket that changed, agency
     users only of tickets dispatched to their agency (the server filters). On the dispatch pages
     it is the page's own socket (dispatch.js), shared. */
  function startSocket() {
    if (socketStarted) { return; }
    socketStarted = true;
    window.ngccLive.listen("dispatch", {
      open: function () { reload(null); },
      message: function (message) {
        if (message.type === "presence" || message.type === "hello") { return; }
        var ids = message.ticket_ids || (message.ticket_id !== undefined ? [message.ticket_id] : null);
        reload(ids ? ids.map(String) : null);
      }
    });
  }

  if (Lf && Lf.Icon && Lf.Icon.Default) {
    Lf.Icon.Default.imagePath = "/static/leaflet/images/";
  }
  new MutationObserver(queueScan).observe(document.getElementById("main") || body, { childList: true, subtree: true });
  window.setInterval(tickAges, AGE_MS);
  window.setInterval(function () { reload(null); }, POLL_MS);
  scan();
}());
