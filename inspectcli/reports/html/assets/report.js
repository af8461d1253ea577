/* inspect report: hover values, the ICE toggle and sortable tables. The page reads without it. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var NS = "http://www.w3.org/2000/svg";

  function setupFigure(fig) {
    var svg = fig.querySelector("svg");
    var src = fig.querySelector("script.hover");
    if (!svg || !src) return;
    var data;
    try { data = JSON.parse(src.textContent); } catch (e) { return; }
    if (!data.series || !data.series.length) return;
    var ice = fig.getAttribute("data-ice");
    if (ice) {
      var g = svg.querySelector('[id="' + ice + '"]');
      if (g) g.classList.add("ice");
    }
    var tip = document.createElement("div");
    tip.className = "tip";
    tip.setAttribute("role", "status");
    fig.appendChild(tip);
    var dots = data.series.map(function () {
      var c = document.createElementNS(NS, "circle");
      c.setAttribute("r", "3.2");
      c.setAttribute("class", "hover-dot");
      c.style.display = "none";
      svg.appendChild(c);
      return c;
    });

    function nearest(pts, x, y, mode) {
      var best = -1, bd = Infinity;
      for (var i = 0; i < pts.length; i++) {
        var dx = pts[i][0] - x, dy = pts[i][1] - y;
        var d = mode === "x" ? Math.abs(dx) : mode === "y" ? Math.abs(dy) : dx * dx + dy * dy;
        if (d < bd) { bd = d; best = i; }
      }
      return best;
    }

    function hide() {
      tip.style.display = "none";
      dots.forEach(function (d) { d.style.display = "none"; });
    }

    function show(ev) {
      var ctm = svg.getScreenCTM();
      if (!ctm) return;
      var pt = svg.createSVGPoint();
      pt.x = ev.clientX; pt.y = ev.clientY;
      var p = pt.matrixTransform(ctm.inverse());
      var lines = [];
      data.series.forEach(function (s, k) {
        var i = nearest(s.pts, p.x, p.y, data.mode);
        if (i < 0) { dots[k].style.display = "none"; return; }
        var q = s.pts[i];
        dots[k].setAttribute("cx", q[0]);
        dots[k].setAttribute("cy", q[1]);
        dots[k].style.display = "";
        if (lines.indexOf(q[2]) < 0) lines.push(q[2]);
      });
      if (!lines.length) { hide(); return; }
      tip.textContent = lines.join("\n");
      tip.style.display = "block";
      // beside the first point shown (right of it, or left when there is no room), not over it
      var box = fig.getBoundingClientRect();
      var anchor = dots[0].style.display === "none" ? null : dots[0].getBoundingClientRect();
      var ax = anchor ? anchor.left + anchor.width / 2 : ev.clientX;
      var ay = anchor ? anchor.top + anchor.height / 2 : ev.clientY;
      var x = ax - box.left, y = ay - box.top;
      var left = x + 12;
      if (left + tip.offsetWidth > box.width) left = Math.max(0, x - 12 - tip.offsetWidth);
      var top = Math.max(0, y - tip.offsetHeight - 8);
      tip.style.left = left + "px";
      tip.style.top = top + "px";
    }

    svg.addEventListener("mousemove", show);
    svg.addEventListener("mouseleave", hide);
  }

  function cellValue(row, i) {
    var cell = row.children[i];
    if (!cell) return "";
    var v = cell.getAttribute("data-v");
    if (v !== null) return v === "" ? -Infinity : parseFloat(v);
    return cell.textContent.trim().toLowerCase();
  }

  function setupTable(table) {
    var heads = table.querySelectorAll("thead th[data-sort]");
    heads.forEach(function (th, i) {
      th.setAttribute("tabindex", "0");
      function sort() {
        var dir = th.getAttribute("data-dir") === "desc" ? "asc" : "desc";
        heads.forEach(function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, i), y = cellValue(b, i);
          var c = x < y ? -1 : x > y ? 1 : 0;
          return dir === "asc" ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  }

  document.querySelectorAll("figure.plot").forEach(setupFigure);
  document.querySelectorAll("table").forEach(setupTable);
  var toggle = document.getElementById("ice-toggle");
  if (toggle) {
    toggle.addEventListener("change", function () {
      document.body.classList.toggle("no-ice", !toggle.checked);
    });
  }
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.setAttribute("open", ""); });
  });
})();
