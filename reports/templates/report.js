(function () {
  "use strict";
  // Sortable tables: a button in each sortable header; cells may carry data-sort (numbers, ranks).
  function value(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell && cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : (cell ? cell.textContent.trim() : "");
    if (!numeric) { return raw; }
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }
  function sortTable(table, header) {
    var index = parseInt(header.getAttribute("data-col"), 10);
    var numeric = header.getAttribute("data-sort-type") === "number";
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true, sensitivity: "base" });
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows).map(function (row, position) {
      return { row: row, key: value(row, index, numeric), position: position };
    });
    rows.sort(function (a, b) {
      var d = numeric ? a.key - b.key : collator.compare(a.key, b.key);
      if (d === 0) { return a.position - b.position; }
      return ascending ? d : -d;
    });
    rows.forEach(function (item) { body.appendChild(item.row); });
    Array.prototype.forEach.call(table.tHead.querySelectorAll("th[aria-sort]"), function (cell) {
      cell.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable th[data-sort-type][data-col]"), function (header) {
    var button = header.querySelector("button");
    if (button) {
      button.addEventListener("click", function () { sortTable(header.closest("table"), header); });
    }
  });
  document.documentElement.classList.add("js");
  // Printing: open every folded section, and fold back afterwards what was folded.
  var opened = [];
  window.addEventListener("beforeprint", function () {
    Array.prototype.forEach.call(document.querySelectorAll("details:not([open])"), function (d) {
      d.open = true;
      opened.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    opened.forEach(function (d) { d.open = false; });
    opened = [];
  });
})();
