/* The findings report's script (tms report): draws the interactive views on canvases from one JSON document,
   the page's application/json script element "tms-data", written by tms.report.render:
   - explorers[id]: {densities, runs: [{run, label, model, n, m, restarts, importance, settings: [{density, instance,
     restart, loss, restart_loss, restart_represented, gram, b, norm, sup, W?}]}]};
   - phases[id]: {model, label, r_values, p_values, cells: [{r, p, label, theory, norm, sup, loss, counts}]};
   - scatters[id]: {title, x_label, y_label, x_log, y_range, lines: [{y, label}], series: [names],
     points: [[x, y, series name, hover text]], optional frames: [{label, points}] and frame_label: a slider
     over the frames (for example training snapshots), the last shown first}.
   No network, no external fonts, no libraries. */
(function () {
  "use strict";
  var dataEl = document.getElementById("tms-data");
  var DATA = dataEl ? JSON.parse(dataEl.textContent) : {};
  var EXPLORERS = DATA.explorers || {};
  var PHASES = DATA.phases || {};
  var SCATTERS = DATA.scatters || {};
  var tip = document.getElementById("tooltip");
  var FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', 'DejaVu Sans', sans-serif";

  // -- small helpers --------------------------------------------------------------------------------
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function num(v, d) {
    if (v === null || v === undefined || !isFinite(v)) return "n/a";
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
    return v.toFixed(d === undefined ? 3 : d);
  }
  function sig(v) { return (v === null || v === undefined || !isFinite(v)) ? "n/a" : String(Number(v.toPrecision(4))); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function showTip(ev, html) {
    if (!tip) return;
    tip.innerHTML = html;
    tip.hidden = false;
    var pad = 14, w = tip.offsetWidth, h = tip.offsetHeight;
    var x = ev.clientX + pad, y = ev.clientY + pad;
    if (x + w > window.innerWidth - 4) x = ev.clientX - pad - w;
    if (y + h > window.innerHeight - 4) y = ev.clientY - pad - h;
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function hideTip() { if (tip) tip.hidden = true; }
  function setupCanvas(canvas, w, h) {
    var r = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * r);
    canvas.height = Math.round(h * r);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.font = FONT;
    return ctx;
  }
  function pos(canvas, ev) {
    var b = canvas.getBoundingClientRect();
    return {x: ev.clientX - b.left, y: ev.clientY - b.top};
  }

  // -- colours --------------------------------------------------------------------------------------
  function mix(a, b, t) { return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]; }
  function rgb(c) { return "rgb(" + Math.round(c[0]) + "," + Math.round(c[1]) + "," + Math.round(c[2]) + ")"; }
  var NEG = [33, 102, 172], MID = [247, 247, 247], POS = [178, 24, 43];
  function diverging(v) {
    var t = Math.max(-1, Math.min(1, v));
    return rgb(t < 0 ? mix(MID, NEG, -t) : mix(MID, POS, t));
  }
  // viridis for importance and norms; inferno (black = orthogonal, yellow = superposed) for superposition,
  // as in the paper's figures and the package's own.
  var VIRIDIS = [[68, 1, 84], [65, 68, 135], [42, 120, 142], [34, 168, 132], [122, 209, 81], [253, 231, 37]];
  var INFERNO = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
                 [250, 193, 39], [252, 255, 164]];
  function stops(table, t) {
    t = Math.max(0, Math.min(1, (t !== null && isFinite(t)) ? t : 0));
    var x = t * (table.length - 1), i = Math.min(table.length - 2, Math.floor(x));
    return rgb(mix(table[i], table[i + 1], x - i));
  }
  function ramp(t) { return stops(VIRIDIS, t); }
  function heat(t) { return stops(INFERNO, t); }
  var LABEL_COLOURS = {not_represented: "#d0d7de", dedicated: "#3b75af", superposition: "#e4572e"};
  var LABEL_NAMES = {not_represented: "not represented", dedicated: "dedicated dimension", superposition: "superposition"};
  function labelName(l) { return LABEL_NAMES[l] || l || "n/a"; }

  // -- WᵀW explorer: heat-map + bias column + norm bars (+ 2-D vectors when m = 2) -----------------
  function niceStep(x) {
    var steps = [1, 2, 5, 10, 20, 50];
    for (var k = 0; k < steps.length; k++) if (steps[k] >= x) return steps[k];
    return 100;
  }
  function settingText(p) { return "density p = " + sig(p) + "  (S = " + sig(1 - p) + ")"; }

  function Panel(host, run) {
    this.run = run;
    var n = run.n;
    // Two panels (linear and ReLU) side by side on a laptop screen: at most 300 px of heat-map.
    this.cell = Math.max(4, Math.min(32, Math.floor(300 / n)));
    this.colStep = niceStep(18 / this.cell);  // two-digit labels need ~18 px across
    this.rowStep = niceStep(12 / this.cell);
    this.left = 30; this.top = 34;
    this.hm = n * this.cell;
    this.bx = this.left + this.hm + 10;
    this.barX = this.bx + this.cell + 28;
    this.barW = 120;
    this.width = this.barX + this.barW + 14;
    this.height = this.top + this.hm + 46;
    var maxNorm = 1;
    run.settings.forEach(function (s) { s.norm.forEach(function (v) { if (v > maxNorm) maxNorm = v; }); });
    this.normMax = Math.max(1.2, maxNorm * 1.05);
    var imp = run.importance, impMax = Math.max.apply(null, imp.concat([1e-12]));
    this.impT = imp.map(function (v) { return v / impMax; });
    var box = el("div", "panel");
    box.appendChild(el("h5", null, run.label + " model  ·  n = " + n + ", m = " + run.m + "  ·  " + run.run));
    var plots = el("div", "plots");
    this.canvas = el("canvas");
    this.canvas.setAttribute("aria-label", "W transpose W heat-map of " + run.run);
    plots.appendChild(this.canvas);
    if (run.m === 2 && run.settings.length && run.settings[0].W) {
      this.vec = el("canvas");
      this.vec.setAttribute("aria-label", "feature directions of " + run.run);
      plots.appendChild(this.vec);
    }
    box.appendChild(plots);
    box.style.maxWidth = (this.width + (this.vec ? 242 : 0)) + "px";
    this.caption = el("p", "caption");
    box.appendChild(this.caption);
    host.appendChild(box);
    this.ctx = setupCanvas(this.canvas, this.width, this.height);
    if (this.vec) this.vctx = setupCanvas(this.vec, 230, 230);
    this.hover = null;
    var self = this;
    this.canvas.addEventListener("mousemove", function (ev) { self.onMove(ev); });
    this.canvas.addEventListener("mouseleave", function () { self.hover = null; self.draw(); hideTip(); });
    if (this.vec) {
      this.vec.addEventListener("mousemove", function (ev) { self.onVecMove(ev); });
      this.vec.addEventListener("mouseleave", hideTip);
    }
  }
  Panel.prototype.feature = function (i) {
    return "feature " + i + " (I = " + sig(this.run.importance[i]) + ")";
  };
  Panel.prototype.show = function (k) {
    this.k = k;
    this.s = this.run.settings[k];
    this.draw();
    if (this.vec) this.drawVec();
    var s = this.s, r = this.run, parts = [];
    parts.push("Shown: restart " + s.restart + " of " + r.restarts + " at " + settingText(s.density) +
               ", the lowest final loss (" + num(s.loss, 5) + ").");
    if (r.restarts > 1) {
      var order = s.restart_loss.map(function (l, j) { return j; });
      order.sort(function (a, b) { return s.restart_loss[a] - s.restart_loss[b]; });
      var counts = {};
      s.restart_represented.forEach(function (c) { counts[c] = (counts[c] || 0) + 1; });
      var keys = Object.keys(counts).sort(function (a, b) { return b - a; });
      parts.push("Features with \u2016W_i\u2016 > 0.5 across the " + r.restarts + " restarts: " +
                 keys.map(function (c) { return c + " in " + counts[c]; }).join(", ") +
                 ". Losses: " + order.map(function (j) { return num(s.restart_loss[j], 5); }).join(", ") + ".");
    }
    this.caption.textContent = parts.join(" ");
  };
  Panel.prototype.draw = function () {
    var c = this.ctx, r = this.run, s = this.s, n = r.n, cell = this.cell, L = this.left, T = this.top;
    c.clearRect(0, 0, this.width, this.height);
    c.fillStyle = "#1f2328"; c.textBaseline = "alphabetic"; c.textAlign = "left";
    c.fillText("W\u1D40W", L, 12);
    c.textAlign = "center";
    c.fillText("b", this.bx + cell / 2, 12);
    c.textAlign = "left";
    c.fillText("\u2016W_i\u2016", this.barX, 12);
    for (var i = 0; i < n; i++) {
      var row = s.gram[i];
      for (var j = 0; j < n; j++) {
        c.fillStyle = diverging(row[j]);
        c.fillRect(L + j * cell, T + i * cell, cell, cell);
      }
      c.fillStyle = diverging(s.b[i]);
      c.fillRect(this.bx, T + i * cell, cell, cell);
      var w = Math.max(0, s.norm[i]) / this.normMax * this.barW;
      c.fillStyle = heat(s.sup[i]);
      c.fillRect(this.barX, T + i * cell + (cell > 6 ? 1 : 0), w, cell - (cell > 6 ? 2 : 0));
    }
    c.strokeStyle = "#8c959f"; c.lineWidth = 1;
    c.strokeRect(L - 0.5, T - 0.5, this.hm + 1, this.hm + 1);
    c.strokeRect(this.bx - 0.5, T - 0.5, cell + 1, this.hm + 1);
    // norm axis: 0 and the unit norm
    c.beginPath(); c.moveTo(this.barX + 0.5, T); c.lineTo(this.barX + 0.5, T + this.hm); c.stroke();
    var one = this.barX + this.barW / this.normMax;
    c.setLineDash([3, 3]); c.beginPath(); c.moveTo(one, T - 2); c.lineTo(one, T + this.hm + 2); c.stroke(); c.setLineDash([]);
    c.fillStyle = "#59636e"; c.textAlign = "center"; c.textBaseline = "top";
    c.fillText("0", this.barX, T + this.hm + 4);
    c.fillText("1", one, T + this.hm + 4);
    // feature ticks
    c.textBaseline = "middle"; c.textAlign = "right";
    for (i = 0; i < n; i += this.rowStep) c.fillText(String(i), L - 4, T + i * cell + cell / 2);
    c.textAlign = "center"; c.textBaseline = "bottom";
    for (j = 0; j < n; j += this.colStep) c.fillText(String(j), L + j * cell + cell / 2, T - 3);
    // legends: diverging −1…1 under the heat-map, superposition 0…1 under the bars
    var ly = T + this.hm + 20, lw = Math.min(160, this.hm);
    for (var x = 0; x < lw; x++) { c.fillStyle = diverging(2 * x / (lw - 1) - 1); c.fillRect(L + x, ly, 1, 8); }
    c.fillStyle = "#59636e"; c.textBaseline = "top"; c.textAlign = "left";
    c.fillText("\u22121", L, ly + 10); c.textAlign = "right"; c.fillText("1", L + lw, ly + 10);
    c.textAlign = "center"; c.fillText("0", L + lw / 2, ly + 10);
    for (x = 0; x < this.barW; x++) { c.fillStyle = heat(x / (this.barW - 1)); c.fillRect(this.barX + x, ly, 1, 8); }
    c.fillStyle = "#59636e"; c.textAlign = "left"; c.fillText("0", this.barX, ly + 10);
    c.textAlign = "right"; c.fillText("\u2265 1", this.barX + this.barW, ly + 10);
    c.textAlign = "center"; c.fillText("superposition", this.barX + this.barW / 2, ly + 10);
    if (this.hover) {
      var h = this.hover;
      c.strokeStyle = "#000"; c.lineWidth = 1.5;
      if (h.kind === "gram") c.strokeRect(L + h.j * cell, T + h.i * cell, cell, cell);
      if (h.kind === "b") c.strokeRect(this.bx, T + h.i * cell, cell, cell);
      if (h.kind === "bar") c.strokeRect(this.barX, T + h.i * cell, this.barW, cell);
    }
  };
  Panel.prototype.onMove = function (ev) {
    var p = pos(this.canvas, ev), cell = this.cell, n = this.run.n, s = this.s;
    var i = Math.floor((p.y - this.top) / cell), hover = null, html = null;
    if (i >= 0 && i < n) {
      var j = Math.floor((p.x - this.left) / cell);
      if (j >= 0 && j < n) {
        hover = {kind: "gram", i: i, j: j};
        html = i === j
          ? "<b>\u2016W_" + i + "\u2016\u00B2 = " + num(s.gram[i][j]) + "</b><br>" + esc(this.feature(i))
          : "<b>W_" + i + " \u00B7 W_" + j + " = " + num(s.gram[i][j]) + "</b><br>" + esc(this.feature(i)) +
            "<br>" + esc(this.feature(j));
      } else if (p.x >= this.bx && p.x < this.bx + cell) {
        hover = {kind: "b", i: i};
        html = "<b>b_" + i + " = " + num(s.b[i]) + "</b><br>" + esc(this.feature(i));
      } else if (p.x >= this.barX && p.x <= this.barX + this.barW) {
        hover = {kind: "bar", i: i};
        html = "<b>" + esc(this.feature(i)) + "</b><br>\u2016W_" + i + "\u2016 = " + num(s.norm[i]) +
               "<br>superposition \u03A3_{j\u2260i}(\u0174_i\u00B7W_j)\u00B2 = " + num(s.sup[i]);
      }
    }
    this.hover = hover;
    this.draw();
    if (html) showTip(ev, html + "<br><span style='opacity:.75'>" + esc(settingText(s.density)) + "</span>");
    else hideTip();
  };
  Panel.prototype.vecGeom = function () {
    var maxN = 1;
    this.s.norm.forEach(function (v) { if (v > maxN) maxN = v; });
    return {cx: 115, cy: 115, R: 95 / Math.max(1.1, maxN * 1.05)};
  };
  Panel.prototype.drawVec = function () {
    var c = this.vctx, s = this.s, g = this.vecGeom(), n = this.run.n;
    c.clearRect(0, 0, 230, 230);
    c.strokeStyle = "#d0d7de"; c.lineWidth = 1;
    c.beginPath(); c.moveTo(10, g.cy); c.lineTo(220, g.cy); c.moveTo(g.cx, 10); c.lineTo(g.cx, 220); c.stroke();
    c.setLineDash([3, 3]); c.beginPath(); c.arc(g.cx, g.cy, g.R, 0, 2 * Math.PI); c.stroke(); c.setLineDash([]);
    for (var i = n - 1; i >= 0; i--) {
      var x = g.cx + s.W[0][i] * g.R, y = g.cy - s.W[1][i] * g.R;
      c.strokeStyle = c.fillStyle = ramp(this.impT[i]);
      c.lineWidth = 2.5;
      c.beginPath(); c.moveTo(g.cx, g.cy); c.lineTo(x, y); c.stroke();
      c.beginPath(); c.arc(x, y, 4, 0, 2 * Math.PI); c.fill();
    }
    c.fillStyle = "#59636e"; c.textAlign = "left"; c.textBaseline = "top";
    c.fillText("W_i in the 2 hidden dimensions", 6, 2);
    c.textBaseline = "bottom";
    c.fillText("colour: importance (yellow = most)", 6, 228);
  };
  Panel.prototype.onVecMove = function (ev) {
    var p = pos(this.vec, ev), g = this.vecGeom(), s = this.s, best = -1, bd = 12;
    for (var i = 0; i < this.run.n; i++) {
      var x = g.cx + s.W[0][i] * g.R, y = g.cy - s.W[1][i] * g.R, d = Math.hypot(p.x - x, p.y - y);
      if (d < bd) { bd = d; best = i; }
    }
    if (best < 0) { hideTip(); return; }
    var ang = Math.atan2(s.W[1][best], s.W[0][best]) * 180 / Math.PI;
    showTip(ev, "<b>" + esc(this.feature(best)) + "</b><br>W_" + best + " = (" + num(s.W[0][best]) + ", " +
            num(s.W[1][best]) + ")<br>\u2016W_" + best + "\u2016 = " + num(s.norm[best]) + ", angle " + ang.toFixed(1) + "\u00B0");
  };

  function initExplorer(root) {
    var spec = EXPLORERS[root.getAttribute("data-explorer")];
    if (!spec || !spec.runs.length) return;
    var controls = el("div", "controls");
    var slider = el("input");
    slider.type = "range"; slider.min = "0"; slider.max = String(spec.densities.length - 1); slider.step = "1";
    slider.setAttribute("aria-label", "sparsity level");
    var label = el("span", "setting");
    controls.appendChild(slider); controls.appendChild(label);
    var buttons = spec.densities.map(function (p, k) {
      var b = el("button", "opt", "S = " + sig(1 - p));
      b.type = "button";
      b.title = settingText(p);
      b.addEventListener("click", function () { select(k); });
      controls.appendChild(b);
      return b;
    });
    root.appendChild(controls);
    root.appendChild(el("p", "hint", "Drag the slider or pick a sparsity. Left: W\u1D40W and the bias b, features in importance order; right: " +
      "\u2016W_i\u2016 per feature, coloured by its superposition. Hover for values."));
    var host = el("div", "panels");
    root.appendChild(host);
    var panels = spec.runs.map(function (run) { return new Panel(host, run); });
    function select(k) {
      slider.value = String(k);
      label.textContent = settingText(spec.densities[k]);
      buttons.forEach(function (b, j) { b.classList.toggle("on", j === k); });
      panels.forEach(function (p) { p.show(k); });
      hideTip();
    }
    slider.addEventListener("input", function () { select(Number(slider.value)); });
    // Start where superposition shows: the sparsest setting (the last one in the paper's order).
    var start = 0, best = -1;
    spec.densities.forEach(function (p, k) { if (best < 0 || p < best) { best = p; start = k; } });
    select(start);
  }

  // -- phase diagrams: one canvas per model, coloured by the chosen quantity -------------------------
  var MODES = [
    ["label", "trained: label"], ["theory", "theory: label"], ["agree", "trained vs theory"],
    ["norm", "\u2016W_extra\u2016"], ["sup", "superposition of extra"]
  ];
  function PhasePlot(host, spec) {
    this.spec = spec;
    var np = spec.p_values.length, nr = spec.r_values.length;
    this.cw = Math.max(6, Math.min(40, Math.floor(340 / Math.max(np, nr))));
    this.left = 58; this.top = 24; this.W = np * this.cw; this.H = nr * this.cw;
    this.width = this.left + this.W + 14; this.height = this.top + this.H + 44;
    var pIndex = {}, rIndex = {};
    spec.p_values.forEach(function (v, k) { pIndex[v] = k; });
    spec.r_values.forEach(function (v, k) { rIndex[v] = k; });
    this.grid = {};
    var self = this;
    spec.cells.forEach(function (c) { self.grid[pIndex[c.p] + "," + rIndex[c.r]] = c; });
    var box = el("div", "panel");
    box.appendChild(el("h5", null, spec.label + " model  \u00B7  " + spec.source));
    this.canvas = el("canvas");
    this.canvas.setAttribute("aria-label", "phase diagram of the " + spec.label + " model");
    box.appendChild(this.canvas);
    host.appendChild(box);
    this.ctx = setupCanvas(this.canvas, this.width, this.height);
    this.hover = null;
    this.canvas.addEventListener("mousemove", function (ev) { self.onMove(ev); });
    this.canvas.addEventListener("mouseleave", function () { self.hover = null; self.draw(); hideTip(); });
  }
  PhasePlot.prototype.colour = function (c) {
    var m = this.mode;
    if (m === "label") return LABEL_COLOURS[c.label] || "#ffffff";
    if (m === "theory") return LABEL_COLOURS[c.theory] || "#ffffff";
    if (m === "agree") return !c.theory ? "#ffffff" : (c.label === c.theory ? "#9fd8a8" : "#cf222e");
    if (m === "norm") return c.norm === null ? "#ffffff" : ramp(c.norm);
    return c.sup === null ? "#ffffff" : heat(c.sup);
  };
  PhasePlot.prototype.axisPos = function (values, v, size) {
    var n = values.length;
    if (n === 1) return size / 2;
    var a = Math.log(values[0]), b = Math.log(values[n - 1]);
    return ((Math.log(v) - a) / (b - a)) * (n - 1) * this.cw + this.cw / 2;
  };
  PhasePlot.prototype.draw = function () {
    var c = this.ctx, sp = this.spec, cw = this.cw, L = this.left, T = this.top, nr = sp.r_values.length;
    c.clearRect(0, 0, this.width, this.height);
    for (var key in this.grid) {
      var ij = key.split(","), i = Number(ij[0]), j = Number(ij[1]);
      c.fillStyle = this.colour(this.grid[key]);
      c.fillRect(L + i * cw, T + (nr - 1 - j) * cw, cw, cw);
    }
    c.strokeStyle = "#8c959f"; c.lineWidth = 1; c.strokeRect(L - 0.5, T - 0.5, this.W + 1, this.H + 1);
    c.fillStyle = "#59636e"; c.font = FONT;
    var self = this;
    function decades(values) {
      var lo = Math.ceil(Math.log10(values[0]) - 1e-9), hi = Math.floor(Math.log10(values[values.length - 1]) + 1e-9), out = [];
      for (var k = lo; k <= hi; k++) out.push(Math.pow(10, k));
      return out;
    }
    c.textAlign = "center"; c.textBaseline = "top";
    decades(sp.p_values).forEach(function (v) {
      var x = L + self.axisPos(sp.p_values, v, self.W);
      c.fillRect(x, T + self.H, 1, 4); c.fillText(sig(v), x, T + self.H + 6);
    });
    c.fillText("feature density p (log)", L + this.W / 2, T + this.H + 22);
    c.textAlign = "right"; c.textBaseline = "middle";
    decades(sp.r_values).forEach(function (v) {
      var y = T + self.H - self.axisPos(sp.r_values, v, self.H);
      c.fillRect(L - 4, y, 4, 1); c.fillText(sig(v), L - 6, y);
    });
    c.save(); c.translate(14, T + this.H / 2); c.rotate(-Math.PI / 2); c.textAlign = "center";
    c.fillText("relative importance r (log)", 0, 0); c.restore();
    c.textAlign = "left"; c.textBaseline = "alphabetic"; c.fillStyle = "#1f2328";
    c.fillText(MODES.filter(function (m) { return m[0] === self.mode; })[0][1], L, 14);
    if (this.mode === "label") {
      // mark where training disagrees with the theory, so the label view alone tells the story
      c.fillStyle = "#1f2328";
      for (key in this.grid) {
        var cell = this.grid[key];
        if (!cell.theory || cell.label === cell.theory) continue;
        ij = key.split(",");
        c.beginPath();
        c.arc(L + (Number(ij[0]) + 0.5) * cw, T + (nr - 0.5 - Number(ij[1])) * cw, Math.max(2, cw / 11), 0, 2 * Math.PI);
        c.fill();
      }
    }
    if (this.hover) {
      c.strokeStyle = "#000"; c.lineWidth = 1.5;
      c.strokeRect(L + this.hover[0] * cw, T + (nr - 1 - this.hover[1]) * cw, cw, cw);
    }
  };
  PhasePlot.prototype.onMove = function (ev) {
    var p = pos(this.canvas, ev), cw = this.cw, nr = this.spec.r_values.length;
    var i = Math.floor((p.x - this.left) / cw), j = nr - 1 - Math.floor((p.y - this.top) / cw);
    var cellData = this.grid[i + "," + j];
    if (!cellData || p.x < this.left || p.y < this.top) { this.hover = null; this.draw(); hideTip(); return; }
    this.hover = [i, j];
    this.draw();
    var k = cellData.counts || {};
    var kept = (k.not_represented || 0) + (k.dedicated || 0) + (k.superposition || 0);
    showTip(ev,
      "<b>r = " + sig(cellData.r) + ", p = " + sig(cellData.p) + "</b> (S = " + sig(1 - cellData.p) + ")<br>" +
      "trained: <b>" + esc(labelName(cellData.label)) + "</b><br>theory: " + esc(labelName(cellData.theory)) + "<br>" +
      "models kept: " + kept + " \u2014 not represented " + (k.not_represented || 0) + ", dedicated " +
      (k.dedicated || 0) + ", superposition " + (k.superposition || 0) + "<br>" +
      "\u2016W_extra\u2016 = " + num(cellData.norm) + ", superposition = " + num(cellData.sup) + "<br>" +
      "loss = " + num(cellData.loss, 5) +
      (cellData.theory_loss !== null && cellData.theory_loss !== undefined
        ? " (theory's best candidate: " + num(cellData.theory_loss, 5) + ")" : "") +
      (cellData.near ? "<br><i>within one grid step of a theoretical boundary</i>" : ""));
  };

  function initPhase(root) {
    var ids = (root.getAttribute("data-phases") || "").split(" ").filter(function (s) { return PHASES[s]; });
    if (!ids.length) return;
    var controls = el("div", "controls");
    controls.appendChild(el("span", "setting", "Colour by:"));
    var legend = el("div", "legend");
    var host = el("div", "panels");
    var plots = ids.map(function (id) { return new PhasePlot(host, PHASES[id]); });
    var buttons = MODES.map(function (m) {
      var b = el("button", "opt", m[1]);
      b.type = "button";
      b.addEventListener("click", function () { select(m[0]); });
      controls.appendChild(b);
      return b;
    });
    root.appendChild(controls);
    root.appendChild(el("p", "hint", "Hover a cell to read r, p, the labels and how many of the models kept at that point took each configuration."));
    root.appendChild(host);
    root.appendChild(legend);
    function swatch(colour, text) {
      var s = el("span"), sw = el("span", "sw");
      sw.style.background = colour;
      s.appendChild(sw); s.appendChild(document.createTextNode(text));
      return s;
    }
    function select(mode) {
      MODES.forEach(function (m, k) { buttons[k].classList.toggle("on", m[0] === mode); });
      plots.forEach(function (p) { p.mode = mode; p.draw(); });
      legend.textContent = "";
      if (mode === "label" || mode === "theory") {
        Object.keys(LABEL_COLOURS).forEach(function (l) { legend.appendChild(swatch(LABEL_COLOURS[l], labelName(l))); });
        if (mode === "label") legend.appendChild(el("span", null, "\u25CF trained label \u2260 theory"));
      } else if (mode === "agree") {
        legend.appendChild(swatch("#9fd8a8", "trained label = theory"));
        legend.appendChild(swatch("#cf222e", "trained label \u2260 theory"));
      } else {
        var f = mode === "norm" ? ramp : heat;
        legend.appendChild(swatch(f(0), "0"));
        legend.appendChild(swatch(f(0.5), "0.5"));
        legend.appendChild(swatch(f(1), "\u2265 1"));
      }
    }
    select("label");
  }


  // -- scatter: points over a (log) x axis, hover for a point's text -------------------------------------
  var SERIES_COLOURS = ["#1f77b4", "#9467bd", "#2ca02c", "#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
                        "#bcbd22", "#17becf"];
  // ticks at a round step (1, 2, 2.5 or 5 times a power of ten), at most about `most` of them
  function niceTicks(lo, hi, most) {
    var raw = (hi - lo) / Math.max(most - 1, 1), mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 2.5, 5, 10].map(function (f) { return f * mag; }).filter(function (st) { return st >= raw; })[0];
    var out = [];
    for (var v = Math.ceil(lo / step - 1e-9) * step; v <= hi + 1e-9 * step; v += step) { out.push(Math.round(v / step) * step); }
    return out;
  }
  function initScatter(root) {
    var spec = SCATTERS[root.getAttribute("data-scatter")];
    if (!spec) return;
    var W = 760, H = 380, L = 56, R = 40, T = 14, B = 44;
    var frames = spec.frames && spec.frames.length ? spec.frames : null;
    root.appendChild(el("p", "hint", spec.title + ". Hover a point to read it."));
    var points = frames ? frames[frames.length - 1].points : spec.points;
    var showFrame = null;
    if (frames) {
      var bar = el("div", "controls"), slider = el("input"), shown = el("span", "frame-label");
      slider.type = "range"; slider.min = 0; slider.max = frames.length - 1; slider.value = frames.length - 1;
      slider.setAttribute("aria-label", spec.frame_label || "frame");
      showFrame = function () {
        var f = frames[+slider.value];
        points = f.points; hover = null;
        shown.textContent = (spec.frame_label || "frame") + " " + f.label;
        draw();
      };
      slider.addEventListener("input", showFrame);
      bar.appendChild(slider); bar.appendChild(shown);
      root.appendChild(bar);
    }
    var canvas = el("canvas");
    root.appendChild(canvas);
    var ctx = setupCanvas(canvas, W, H);
    var xs = (frames ? [].concat.apply([], frames.map(function (f) { return f.points; })) : spec.points)
      .map(function (q) { return q[0]; });
    var lx = function (v) { return spec.x_log ? Math.log10(v) : v; };
    var x0 = Math.min.apply(null, xs.map(lx)), x1 = Math.max.apply(null, xs.map(lx));
    if (x1 === x0) { x1 = x0 + 1; }
    var pad = (x1 - x0) * 0.03;
    x0 -= pad; x1 += pad;
    var y0 = spec.y_range ? spec.y_range[0] : 0, y1 = spec.y_range ? spec.y_range[1] : 1;
    function px(v) { return L + (lx(v) - x0) / (x1 - x0) * (W - L - R); }
    function py(v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B); }
    var colour = {};
    spec.series.forEach(function (name, k) { colour[name] = name === "other" ? "#9aa0a6" : SERIES_COLOURS[k % SERIES_COLOURS.length]; });
    var hover = null;
    function draw() {
      ctx.clearRect(0, 0, W, H);
      ctx.font = FONT; ctx.strokeStyle = "#d1d9e0"; ctx.fillStyle = "#59636e";
      (spec.lines || []).forEach(function (line) {
        ctx.setLineDash([4, 3]); ctx.beginPath(); ctx.moveTo(L, py(line.y)); ctx.lineTo(W - R, py(line.y)); ctx.stroke();
        ctx.setLineDash([]); ctx.fillText(line.label, W - R + 4, py(line.y) + 4);
      });
      ctx.strokeStyle = "#1f2328"; ctx.beginPath(); ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B); ctx.stroke();
      for (var d = Math.ceil(x0); spec.x_log && d <= Math.floor(x1); d++) {
        var v = Math.pow(10, d);
        ctx.fillText(String(v), px(v) - 8, H - B + 16);
      }
      ctx.fillText(spec.x_label, (L + W - R) / 2 - 30, H - 8);
      ctx.save(); ctx.translate(14, (T + H - B) / 2 + 10); ctx.rotate(-Math.PI / 2); ctx.fillText(spec.y_label, 0, 0); ctx.restore();
      niceTicks(y0, y1, 5).forEach(function (yv) { ctx.fillText(sig(yv), L - 34, py(yv) + 4); });
      points.forEach(function (q, k) {
        ctx.fillStyle = colour[q[2]] || "#1f2328";
        ctx.globalAlpha = hover === k ? 1 : 0.65;
        ctx.beginPath(); ctx.arc(px(q[0]), py(q[1]), hover === k ? 4.5 : 2.2, 0, 2 * Math.PI); ctx.fill();
      });
      ctx.globalAlpha = 1;
    }
    canvas.addEventListener("mousemove", function (ev) {
      var p = pos(canvas, ev), best = null, bestD = 36;
      points.forEach(function (q, k) {
        var dx = px(q[0]) - p.x, dy = py(q[1]) - p.y, dd = dx * dx + dy * dy;
        if (dd < bestD) { bestD = dd; best = k; }
      });
      hover = best; draw();
      if (best === null) { hideTip(); return; }
      var q = points[best];
      showTip(ev, esc(spec.x_label) + " = " + sig(q[0]) + "<br>" + esc(q[3]));
    });
    canvas.addEventListener("mouseleave", function () { hover = null; draw(); hideTip(); });
    var legend = el("div", "legend");
    spec.series.forEach(function (name) {
      if (!(frames ? frames : [{points: spec.points}]).some(function (f) {
        return f.points.some(function (q) { return q[2] === name; });
      })) return;
      var s = el("span"), sw = el("span", "sw");
      sw.style.background = colour[name];
      s.appendChild(sw); s.appendChild(document.createTextNode(name));
      legend.appendChild(s);
    });
    root.appendChild(legend);
    if (points.length) {  // where the first point is drawn (tests hover it)
      canvas.setAttribute("data-first-point", Math.round(px(points[0][0])) + "," + Math.round(py(points[0][1])));
    }
    if (frames) { showFrame(); } else { draw(); }
  }

  // -- figures: click to enlarge --------------------------------------------------------------------
  function initLightbox() {
    var box = document.getElementById("lightbox");
    if (!box) return;
    var big = box.querySelector("img");
    document.querySelectorAll("figure.fig img").forEach(function (img) {
      img.addEventListener("click", function () { big.src = img.src; big.alt = img.alt; box.hidden = false; });
    });
    box.addEventListener("click", function () { box.hidden = true; });
    document.addEventListener("keydown", function (ev) { if (ev.key === "Escape") box.hidden = true; });
  }

  document.querySelectorAll("[data-explorer]").forEach(initExplorer);
  document.querySelectorAll("[data-phases]").forEach(initPhase);
  document.querySelectorAll("[data-scatter]").forEach(initScatter);
  initLightbox();
  document.documentElement.setAttribute("data-ready", "1");
})();
