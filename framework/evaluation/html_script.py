"""The one script of labelwise's HTML pages: it filters the tables of rows.

A filterable table is `<table data-filter>` whose body rows carry
`data-missed` and `data-extra` (JSON lists of labels), `data-status` and
`data-conf` (a number, or empty when the row has no confidence). The controls
beside it are `select[data-filter-label]`, `select[data-filter-kind]` and
`input[data-filter-conf]` (a minimum confidence); `[data-filter-count]` says
how many rows are shown. Nothing is fetched; the page works from disk.
"""

from __future__ import annotations

__all__ = ["FILTER_SCRIPT"]

FILTER_SCRIPT = """
(function () {
  "use strict";
  function list(row, name) {
    try { return JSON.parse(row.getAttribute(name) || "[]"); } catch (e) { return []; }
  }
  function matches(row, label, kind, minimum) {
    var missed = list(row, "data-missed"), extra = list(row, "data-extra");
    var failed = row.getAttribute("data-status") !== "ok";
    var wrong = missed.concat(extra);
    var hasLabel = function (labels) { return !label || labels.indexOf(label) >= 0; };
    var ok;
    if (kind === "missed") { ok = missed.length > 0 && hasLabel(missed); }
    else if (kind === "extra") { ok = extra.length > 0 && hasLabel(extra); }
    else if (kind === "failed") { ok = failed && hasLabel(wrong); }
    else { ok = hasLabel(wrong); }
    if (ok && minimum > 0) {
      var conf = row.getAttribute("data-conf");
      ok = conf !== null && conf !== "" && parseFloat(conf) >= minimum;
    }
    return ok;
  }
  function wire(scope) {
    var table = scope.querySelector("table[data-filter]");
    if (!table) { return; }
    var label = scope.querySelector("[data-filter-label]");
    var kind = scope.querySelector("[data-filter-kind]");
    var conf = scope.querySelector("[data-filter-conf]");
    var confShown = scope.querySelector("[data-filter-conf-value]");
    var count = scope.querySelector("[data-filter-count]");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    function apply() {
      var minimum = conf ? parseFloat(conf.value) || 0 : 0;
      var shown = 0;
      rows.forEach(function (row) {
        var ok = matches(row, label ? label.value : "", kind ? kind.value : "", minimum);
        row.hidden = !ok;
        if (ok) { shown += 1; }
      });
      if (confShown) { confShown.textContent = minimum.toFixed(2); }
      if (count) { count.textContent = shown + " of " + rows.length + " rows shown"; }
    }
    [label, kind, conf].forEach(function (control) {
      if (control) {
        control.addEventListener("input", apply);
        control.addEventListener("change", apply);
      }
    });
    apply();
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-filter-scope]"), wire);
})();
"""
