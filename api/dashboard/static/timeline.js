// The endpoint page's timeline: runs at their actual start (height: duration), colored by source,
// failed ones ringed in red, the start lag behind the planned slot as a dashed line, the next
// planned runs on the axis, and bands for an active pause, hint or backoff. Data comes from the
// page as JSON (see cronicorn.api.dashboard.timeline); no inline script, no network.
(function () {
  "use strict";
  var holder = document.getElementById("timeline");
  var source = document.getElementById("timeline-data");
  if (!holder || !source) return;
  var data = JSON.parse(source.textContent);
  var css = getComputedStyle(document.documentElement);
  function color(name) { return css.getPropertyValue("--" + name).trim() || "#888"; }

  var xs = [];
  data.runs.forEach(function (r) { xs.push(r.at); });
  data.planned.forEach(function (p) { xs.push(p.at); });
  xs = Array.from(new Set(xs)).sort(function (a, b) { return a - b; });
  var index = new Map(xs.map(function (x, i) { return [x, i]; }));
  function column() { return xs.map(function () { return null; }); }

  var byGroup = {};
  data.groups.forEach(function (g) { byGroup[g] = column(); });
  var failed = column(), lag = column(), planned = column();
  data.runs.forEach(function (r) {
    var i = index.get(r.at);
    byGroup[r.group][i] = r.duration_s;
    lag[i] = r.lag_s;
    if (r.status === "failed" || r.status === "abandoned") failed[i] = r.duration_s;
  });
  data.planned.forEach(function (p) { planned[index.get(p.at)] = 0; });

  window.cronicornTimeline = { runs: data.runs.length, planned: data.planned.length, plot: null };
  if (!xs.length) {
    holder.textContent = "No run yet and nothing planned.";
    return;
  }

  function dots(label, values, stroke, fill, size) {
    return {
      label: label, stroke: stroke, fill: fill, width: 2, paths: function () { return null; },
      points: { show: true, size: size, stroke: stroke, fill: fill, width: 2 }, scale: "s",
      value: function (u, v) { return v == null ? "—" : v.toFixed(3) + " s"; }
    };
  }
  var series = [{ label: "time (UTC)", value: "{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}" }];
  var columns = [xs];
  data.groups.forEach(function (g) {
    series.push(dots(g, byGroup[g], color(g), color(g), 8));
    columns.push(byGroup[g]);
  });
  series.push(dots("failed", failed, color("retry"), "rgba(0,0,0,0)", 14));
  columns.push(failed);
  series.push(dots("planned", planned, color("planned"), "#fff", 9));
  columns.push(planned);
  series.push({ label: "start lag", stroke: "#94a3b8", width: 1, dash: [4, 4], scale: "lag", spanGaps: true,
    points: { show: false }, value: function (u, v) { return v == null ? "—" : v.toFixed(3) + " s"; } });
  columns.push(lag);

  var bandColor = { pause: "rgba(234,179,8,.22)", hint: "rgba(147,51,234,.12)", backoff: "rgba(220,38,38,.10)" };
  function drawBands(u) {
    var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
    ctx.save();
    data.bands.forEach(function (b) {
      var x0 = Math.max(u.bbox.left, u.valToPos(b.from, "x", true));
      var x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(b.to, "x", true));
      if (x1 > x0) { ctx.fillStyle = bandColor[b.kind] || "rgba(0,0,0,.05)"; ctx.fillRect(x0, top, x1 - x0, height); }
    });
    var now = u.valToPos(data.now, "x", true);
    if (now >= u.bbox.left && now <= u.bbox.left + u.bbox.width) {
      ctx.strokeStyle = "#111827"; ctx.setLineDash([2, 3]); ctx.beginPath();
      ctx.moveTo(now, top); ctx.lineTo(now, top + height); ctx.stroke();
    }
    ctx.restore();
  }

  var lo = Math.min(xs[0], data.now), hi = Math.max(xs[xs.length - 1], data.now);
  var pad = Math.max(5, (hi - lo) * 0.03);
  function size() { return { width: Math.max(320, holder.clientWidth), height: 320 }; }
  var opts = Object.assign(size(), {
    series: series,
    scales: { x: { time: true, range: [lo - pad, hi + pad] }, s: { range: function (u, min, max) { return [0, Math.max(0.1, max * 1.15)]; } },
      lag: { range: function (u, min, max) { return [0, Math.max(0.1, (max || 0) * 1.15)]; } } },
    axes: [{}, { scale: "s", label: "duration (s)" }, { scale: "lag", side: 1, label: "start lag (s)", grid: { show: false } }],
    cursor: { points: { size: 10 } },
    hooks: { drawClear: [drawBands] }
  });
  var plot = new uPlot(opts, columns, holder);
  window.cronicornTimeline.plot = plot;
  window.cronicornTimeline.points = columns.slice(1, 1 + data.groups.length).reduce(function (n, col) {
    return n + col.filter(function (v) { return v != null; }).length;
  }, 0);
  window.addEventListener("resize", function () { plot.setSize(size()); });
})();
