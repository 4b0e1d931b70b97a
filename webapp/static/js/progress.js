/* Progress dashboard: draws Chart.js charts from data-chart attributes and sorts tables by column.
   No inline script (CSP default-src 'self'): every figure arrives in the page's data-* attributes. */
(function () {
  "use strict";

  var COLOURS = ["#c0392b", "#1f6feb", "#1a7f37", "#9a6700"];

  function drawCharts() {
    if (typeof window.Chart === "undefined") { return; }
    var dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
    window.Chart.defaults.color = dark ? "#e6edf3" : "#1f2328";
    window.Chart.defaults.font.size = 14;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var spec = JSON.parse(canvas.getAttribute("data-chart"));
      var line = !!spec.line;
      var datasets = spec.series.map(function (s, i) {
        return { label: s.label, data: s.data, backgroundColor: COLOURS[i % COLOURS.length],
                 borderColor: COLOURS[i % COLOURS.length], borderWidth: line ? 2 : 0, pointRadius: line ? 2 : 0,
                 tension: 0.2 };
      });
      // Many departments read better as horizontal bars, one row each (CSSOM height: allowed under the CSP).
      var horizontal = !!spec.percent && spec.labels.length > 6;
      if (horizontal) { canvas.parentNode.style.height = Math.max(260, spec.labels.length * 30 + 60) + "px"; }
      var chart = new window.Chart(canvas, {
        type: line ? "line" : "bar",
        data: { labels: spec.labels, datasets: datasets },
        options: {
          responsive: true, maintainAspectRatio: false, animation: false,
          indexAxis: horizontal ? "y" : "x",
          plugins: { legend: { position: "bottom" } },
          scales: spec.percent ? (horizontal ? { x: { min: 0, max: 100 } } : { y: { min: 0, max: 100 } })
                               : { y: { beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
      canvas.setAttribute("data-drawn", String(chart.data.datasets.length));
    });
  }

  function cellValue(row, index, kind) {
    var cell = row.cells[index];
    var raw = cell.getAttribute("data-value");
    if (kind === "num") { return parseFloat(raw !== null ? raw : cell.textContent) || 0; }
    return cell.textContent.trim();
  }

  function makeSortable(table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, index) {
      var button = th.querySelector("button[data-sort]");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var kind = button.getAttribute("data-sort");
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.cells.length > 1; });
        rows.sort(function (a, b) {
          var x = cellValue(a, index, kind), y = cellValue(b, index, kind);
          var order = kind === "num" ? x - y : String(x).localeCompare(String(y), "zh-CN");
          return ascending ? order : -order;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    document.querySelectorAll("table.sortable").forEach(makeSortable);
  });
})();
