// The dependency graph: endpoints as boxes grouped by job, edges upstream -> downstream labelled with
// their mode and last evaluation. Laid out by the vendored dagre (left to right), drawn as SVG here;
// each endpoint is a link to its page. Data comes from the page as JSON (see
// cronicorn.api.dashboard.graph); the table under the picture says the same in words. No network.
(function () {
  "use strict";
  var holder = document.getElementById("graph");
  var source = document.getElementById("graph-data");
  if (!holder || !source || typeof dagre === "undefined") return;
  var data = JSON.parse(source.textContent);
  var NS = "http://www.w3.org/2000/svg";
  var NODE_W = 170, NODE_H = 42, LABEL_W = 200, PAD = 16;

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }
  function text(parent, x, y, value, cls, most) {
    var t = el("text", { x: x, y: y, "class": cls || "" }, parent);
    var limit = most || 24;
    t.textContent = value.length > limit ? value.slice(0, limit - 1) + "\u2026" : value;
    return t;
  }

  var g = new dagre.graphlib.Graph({ compound: true, multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 24, ranksep: 90, edgesep: 12, marginx: PAD, marginy: PAD });
  g.setDefaultEdgeLabel(function () { return {}; });
  data.nodes.forEach(function (n) {
    g.setNode("job:" + n.job_id, { label: n.job, cluster: true, paddingTop: 22 });
    g.setNode(n.id, { width: NODE_W, height: NODE_H, node: n });
    g.setParent(n.id, "job:" + n.job_id);
  });
  data.edges.forEach(function (e) {
    g.setEdge(e.from, e.to, { edge: e, width: LABEL_W, height: 18, labelpos: "c" });
  });
  dagre.layout(g);

  var size = g.graph();
  var svg = el("svg", { width: Math.ceil(size.width), height: Math.ceil(size.height),
    viewBox: "0 0 " + Math.ceil(size.width) + " " + Math.ceil(size.height), role: "group",
    "aria-label": "dependency graph" }, null);
  var defs = el("defs", {}, svg);
  ["success", "running", "paused", "skipped", "none"].forEach(function (tone) {
    var m = el("marker", { id: "arrow-" + tone, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7,
      markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", "class": "arrow " + tone }, m);
  });

  var clusters = el("g", { "class": "clusters" }, svg);
  g.nodes().forEach(function (id) {
    var v = g.node(id);
    if (!v || !v.cluster) return;
    el("rect", { x: v.x - v.width / 2, y: v.y - v.height / 2, width: v.width, height: v.height, rx: 8,
      "class": "job-box" }, clusters);
    text(clusters, v.x - v.width / 2 + 8, v.y - v.height / 2 + 15, v.label, "job-label");
  });

  var drawnEdges = 0;
  var edges = el("g", { "class": "edges" }, svg);
  g.edges().forEach(function (key) {
    var v = g.edge(key), e = v.edge, tone = e.tone || "none";
    var d = v.points.map(function (p, i) { return (i ? "L" : "M") + p.x.toFixed(1) + "," + p.y.toFixed(1); }).join(" ");
    var group = el("g", { "class": "edge " + tone, "data-from": e.from, "data-to": e.to, "data-result": e.result }, edges);
    el("title", {}, group).textContent = e.mode + (e.condition ? " if " + e.condition : "") + ": " + e.label;
    el("path", { d: d, "marker-end": "url(#arrow-" + tone + ")" }, group);
    // The label sits on the line (dagre reserves its box there): a backing box keeps it readable.
    el("rect", { x: v.x - LABEL_W / 2, y: v.y - 9, width: LABEL_W, height: 18, rx: 4, "class": "edge-box" }, group);
    text(group, v.x, v.y + 4, e.mode + " \u00b7 " + e.label, "edge-label", 34);
    drawnEdges += 1;
  });

  var drawnNodes = 0;
  var nodes = el("g", { "class": "nodes" }, svg);
  data.nodes.forEach(function (n) {
    var v = g.node(n.id);
    var link = el("a", { href: "/endpoints/" + encodeURIComponent(n.id), "class": "node " + n.status,
      "data-id": n.id }, nodes);
    el("title", {}, link).textContent = n.job + " / " + n.name + " (" + n.status + ")";
    el("rect", { x: v.x - NODE_W / 2, y: v.y - NODE_H / 2, width: NODE_W, height: NODE_H, rx: 6 }, link);
    text(link, v.x - NODE_W / 2 + 10, v.y - 2, n.name, "node-name");
    text(link, v.x - NODE_W / 2 + 10, v.y + 13, n.status, "node-status");
    drawnNodes += 1;
  });

  holder.appendChild(svg);
  window.cronicornGraph = { nodes: drawnNodes, edges: drawnEdges };
})();
