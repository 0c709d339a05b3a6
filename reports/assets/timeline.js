// timeline.html's drawing code (reports/src/html.rs inlines this file).
//
// The page embeds the run's Lamport diagram as JSON (#diagram-data, made by
// reports/src/lamport.rs) and draws it here as SVG: a lane per process, time
// flowing down, an arrow per delivered message, fault bands across the lanes
// they hit, leader epochs, and a red marker per violation. Nothing is fetched:
// the file works offline. Time is drawn compressed: each step from one moment
// to the next takes a few pixels plus its duration, capped, so a ten-second
// wait does not push the interesting seconds off the screen; the axis on the
// left keeps the real simulated times.
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("diagram-data").textContent);
  const SVGNS = "http://www.w3.org/2000/svg";
  const LANE_W = 120, LEFT = 70, TOP = 16;
  const state = {
    zoom: 1,
    hiddenLanes: new Set(),
    hiddenKinds: new Set(),
    showLost: true,
  };

  // A colour per message kind, stable across runs (a hash of the name).
  function colour(kind) {
    let h = 0;
    for (const c of kind) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return "hsl(" + (h % 360) + ", 62%, 38%)";
  }
  function secs(ms) { return (ms / 1000).toFixed(2) + "s"; }
  function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // The compressed time axis: every moment something is drawn at gets a y.
  function timeAxis() {
    const times = new Set([0, D.end_ms]);
    for (const a of D.arrows) { times.add(a.sent_ms); times.add(a.delivered_ms); }
    for (const l of D.lost) times.add(l.sent_ms);
    for (const b of D.bands) { times.add(b.start_ms); times.add(b.end_ms); }
    for (const e of D.epochs) { times.add(e.start_ms); times.add(e.end_ms); }
    for (const v of D.violations) times.add(v.t_ms);
    const sorted = Array.from(times).sort((a, b) => a - b);
    const y = new Map();
    let at = TOP, prev = sorted[0];
    const z = state.zoom;
    for (const t of sorted) {
      if (t !== prev) at += 4 * z + Math.min((t - prev) * 0.25 * z, 48 * z);
      y.set(t, at);
      prev = t;
    }
    return { y: (t) => y.get(t), sorted, height: at + 40 };
  }

  function visibleLanes() {
    const x = new Map();
    let col = 0;
    D.lanes.forEach((lane, i) => {
      if (!state.hiddenLanes.has(lane.name)) x.set(i, LEFT + LANE_W / 2 + LANE_W * col++);
    });
    return { x, width: LEFT + LANE_W * col + 20 };
  }

  const tooltip = document.getElementById("tooltip");
  function showTip(target, html) {
    tooltip.innerHTML = html;
    tooltip.hidden = false;
    const r = target.getBoundingClientRect();
    const left = Math.min(r.right + 12, window.innerWidth - 580);
    tooltip.style.left = Math.max(4, left) + "px";
    tooltip.style.top = Math.max(4, Math.min(r.top, window.innerHeight - 200)) + "px";
  }
  function hideTip() { tooltip.hidden = true; }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
  }
  function pretty(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }
  function tipFor(g, html) {
    g.addEventListener("mouseenter", () => showTip(g, html()));
    g.addEventListener("mouseleave", hideTip);
    g.addEventListener("focus", () => showTip(g, html()));
    g.addEventListener("blur", hideTip);
  }

  function draw() {
    const axis = timeAxis();
    const lanes = visibleLanes();
    const svg = document.getElementById("diagram");
    svg.textContent = "";
    svg.setAttribute("width", lanes.width);
    svg.setAttribute("height", axis.height);
    const defs = el("defs", {}, svg);
    const marker = el("marker", { id: "head", viewBox: "0 0 10 10", refX: 10, refY: 5,
      markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: "context-stroke" }, marker);

    // The time axis: a label whenever the last one is far enough above.
    const ticks = el("g", { class: "axis" }, svg);
    let lastY = -100;
    for (const t of axis.sorted) {
      const y = axis.y(t);
      if (y - lastY < 28) continue;
      el("text", { x: 4, y: y + 4 }, ticks).textContent = secs(t);
      el("line", { x1: LEFT - 6, x2: lanes.width, y1: y, y2: y, stroke: "#eef0f5" }, ticks);
      lastY = y;
    }

    // Lanes, and their names in the sticky header.
    const heads = document.getElementById("lane-heads");
    heads.textContent = "";
    heads.style.width = lanes.width + "px";
    D.lanes.forEach((lane, i) => {
      const x = lanes.x.get(i);
      const g = el("g", { class: "lane", "data-process": lane.name }, svg);
      if (x === undefined) { g.classList.add("hidden"); return; }
      el("line", { x1: x, x2: x, y1: TOP, y2: axis.height - 20 }, g);
      const head = document.createElement("span");
      head.textContent = lane.name;
      head.title = lane.name + " (machine " + lane.machine + ")";
      head.style.left = x + "px";
      heads.appendChild(head);
    });

    // Fault bands: one group per fault, a rectangle on each lane it hit.
    D.bands.forEach((b, i) => {
      const g = el("g", { class: "band " + b.fault, "data-index": i, "data-fault": b.fault, tabindex: 0 }, svg);
      const y1 = axis.y(b.start_ms), y2 = axis.y(b.end_ms);
      const instant = b.end_ms === b.start_ms;
      let shown = 0;
      for (const lane of b.lanes) {
        const x = lanes.x.get(lane);
        if (x === undefined) continue;
        shown++;
        el("rect", { x: x - LANE_W / 2 + 6, width: LANE_W - 12, y: y1 - (instant ? 1.5 : 0),
          height: instant ? 3 : Math.max(y2 - y1, 3), class: instant ? "instant" : "" }, g);
      }
      if (shown === 0) { g.classList.add("hidden"); return; }
      const first = Math.min(...b.lanes.map((l) => lanes.x.has(l) ? lanes.x.get(l) : Infinity));
      el("text", { x: first - LANE_W / 2 + 8, y: y1 + 10 }, g).textContent = b.fault;
      tipFor(g, () => "<b>fault " + esc(b.fault) + "</b> " + esc(b.detail) + "<br>" +
        secs(b.start_ms) + (instant ? "" : " – " + secs(b.end_ms)));
    });

    // Leader epochs, a bar along the leading master's lane.
    for (const e of D.epochs) {
      const x = lanes.x.get(e.lane);
      const g = el("g", { class: "epoch", "data-epoch": e.epoch }, svg);
      if (x === undefined) { g.classList.add("hidden"); continue; }
      const y1 = axis.y(e.start_ms), y2 = axis.y(e.end_ms);
      el("rect", { x: x - 4, width: 8, y: y1, height: Math.max(y2 - y1, 2) }, g);
      el("text", { x: x + 7, y: y1 + 10 }, g).textContent = "leader, epoch " + e.epoch;
    }

    // Messages: an arrow per delivered message (or bundle of them).
    D.arrows.forEach((a, i) => {
      const x1 = lanes.x.get(a.from), x2 = lanes.x.get(a.to);
      const g = el("g", { class: "arrow" + (a.count > 1 ? " bundle" : ""), tabindex: 0,
        "data-index": i, "data-kind": a.kind, "data-from": D.lanes[a.from].name,
        "data-to": D.lanes[a.to].name }, svg);
      if (x1 === undefined || x2 === undefined || state.hiddenKinds.has(a.kind)) {
        g.classList.add("hidden");
        return;
      }
      const y1 = axis.y(a.sent_ms), y2 = axis.y(a.delivered_ms) + (a.from === a.to ? 6 : 0);
      const geometry = { x1, y1, x2: x2 + (x1 === x2 ? 20 : 0), y2 };
      el("line", Object.assign({ class: "hit" }, geometry), g);
      el("line", Object.assign({ class: "shaft", stroke: colour(a.kind), "marker-end": "url(#head)" }, geometry), g);
      tipFor(g, () => "<b>" + esc(a.kind) + "</b>" + (a.count > 1 ? " × " + a.count : "") + " " +
        esc(D.lanes[a.from].name) + " → " + esc(D.lanes[a.to].name) + "<br>sent " + secs(a.sent_ms) +
        ", delivered " + secs(a.delivered_ms) + "<pre>" + esc(pretty(a.text)) + "</pre>");
    });

    // Messages never delivered: a dashed stub towards the receiver, and a cross.
    if (state.showLost) D.lost.forEach((l, i) => {
      const x1 = lanes.x.get(l.from), x2 = lanes.x.get(l.to);
      if (x1 === undefined || x2 === undefined || state.hiddenKinds.has(l.kind)) return;
      const g = el("g", { class: "lost", "data-index": i, "data-kind": l.kind, tabindex: 0 }, svg);
      const y = axis.y(l.sent_ms), xe = x1 + (x2 - x1) * 0.35;
      el("line", { x1, y1: y, x2: xe, y2: y + 8 }, g);
      el("text", { x: xe - 4, y: y + 12 }, g).textContent = "×";
      tipFor(g, () => "<b>" + esc(l.kind) + "</b> " + esc(D.lanes[l.from].name) + " → " +
        esc(D.lanes[l.to].name) + "<br>sent " + secs(l.sent_ms) + ", never delivered");
    });

    // Violations: a red marker on each lane involved.
    D.violations.forEach((v, i) => {
      const g = el("g", { class: "violation", id: "violation-" + i, tabindex: 0,
        "data-checker": v.checker }, svg);
      const y = axis.y(v.t_ms);
      let shown = 0;
      for (const lane of v.lanes) {
        const x = lanes.x.get(lane);
        if (x === undefined) continue;
        shown++;
        el("circle", { cx: x, cy: y, r: 7 }, g);
      }
      if (shown === 0) g.classList.add("hidden");
      tipFor(g, () => "<b>VIOLATION " + esc(v.checker) + "</b> at " + secs(v.t_ms) + "<br>" + esc(v.message));
    });
  }

  // Controls: zoom, and filters by process and by message kind.
  function checkboxes(containerId, names, hidden, attr) {
    const box = document.getElementById(containerId);
    for (const name of names) {
      const label = document.createElement("label");
      const input = document.createElement("input");
      input.type = "checkbox";
      input.checked = true;
      input.setAttribute(attr, name);
      input.addEventListener("change", () => {
        if (input.checked) hidden.delete(name); else hidden.add(name);
        draw();
      });
      label.appendChild(input);
      label.appendChild(document.createTextNode(" " + name));
      box.appendChild(label);
    }
  }
  checkboxes("process-filter", D.lanes.map((l) => l.name), state.hiddenLanes, "data-process");
  const kinds = Array.from(new Set(D.arrows.map((a) => a.kind).concat(D.lost.map((l) => l.kind)))).sort();
  checkboxes("kind-filter", kinds, state.hiddenKinds, "data-kind");
  function setAll(containerId, hidden, on) {
    for (const input of document.querySelectorAll("#" + containerId + " input")) {
      input.checked = on;
      const name = input.getAttribute("data-process") || input.getAttribute("data-kind");
      if (on) hidden.delete(name); else hidden.add(name);
    }
    draw();
  }
  document.getElementById("processes-all").onclick = () => setAll("process-filter", state.hiddenLanes, true);
  document.getElementById("processes-none").onclick = () => setAll("process-filter", state.hiddenLanes, false);
  document.getElementById("kinds-all").onclick = () => setAll("kind-filter", state.hiddenKinds, true);
  document.getElementById("kinds-none").onclick = () => setAll("kind-filter", state.hiddenKinds, false);
  document.getElementById("show-lost").onchange = (e) => { state.showLost = e.target.checked; draw(); };
  document.getElementById("zoom-in").onclick = () => { state.zoom = Math.min(state.zoom * 1.5, 20); draw(); };
  document.getElementById("zoom-out").onclick = () => { state.zoom = Math.max(state.zoom / 1.5, 0.1); draw(); };
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT") return;
    if (e.key === "+" || e.key === "=") document.getElementById("zoom-in").click();
    if (e.key === "-") document.getElementById("zoom-out").click();
  });
  draw();
  document.body.setAttribute("data-ready", "true");
})();
