// The matrix's filters. The state lives in the URL fragment, so that a filtered view can be
// linked to, bookmarked and loaded by a test: `#differs&area=rst&level=must&verdict=failed&rule=RS-4`.
// Rows carry what the filters test in data attributes; without this script every row shows.
"use strict";
(function () {
  var KEYS = ["area", "level", "verdict", "rule"];
  var table = document.querySelector("table.matrix");
  if (!table) return;
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr.inst"));
  var groups = Array.prototype.slice.call(table.querySelectorAll("tbody tr.area"));
  var control = {
    area: document.getElementById("f-area"),
    level: document.getElementById("f-level"),
    verdict: document.getElementById("f-verdict"),
    differs: document.getElementById("f-differs")
  };
  var shownText = document.getElementById("shown");
  var ruleBox = document.getElementById("rulefilter");
  var ruleName = document.getElementById("rulename");

  function parse(hash) {
    var s = { differs: false, area: "", level: "", verdict: "", rule: "" };
    hash.replace(/^#/, "").split("&").forEach(function (part) {
      if (!part) return;
      var i = part.indexOf("=");
      var key, value;
      try {
        key = decodeURIComponent(i < 0 ? part : part.slice(0, i));
        value = i < 0 ? "" : decodeURIComponent(part.slice(i + 1));
      } catch (e) {
        return;
      }
      if (key === "differs") s.differs = value === "" || value === "1" || value === "true";
      else if (KEYS.indexOf(key) >= 0) s[key] = value;
    });
    return s;
  }

  function format(s) {
    var parts = [];
    if (s.differs) parts.push("differs");
    KEYS.forEach(function (k) {
      if (s[k]) parts.push(k + "=" + encodeURIComponent(s[k]));
    });
    return parts.join("&");
  }

  function has(list, word) {
    return (" " + list + " ").indexOf(" " + word + " ") >= 0;
  }

  function matches(tr, s) {
    var d = tr.dataset;
    if (s.differs && d.differs !== "1") return false;
    if (s.area && d.area !== s.area && d.area.indexOf(s.area + "/") !== 0) return false;
    if (s.level && d.level !== s.level) return false;
    if (s.verdict && !has(d.verdicts, s.verdict)) return false;
    if (s.rule && !has(d.rules, s.rule)) return false;
    return true;
  }

  function apply() {
    var s = parse(location.hash);
    var shown = 0;
    var visibleAreas = {};
    rows.forEach(function (tr) {
      var ok = matches(tr, s);
      tr.hidden = !ok;
      if (ok) {
        shown++;
        visibleAreas[tr.dataset.area] = true;
      }
    });
    groups.forEach(function (tr) {
      tr.hidden = !visibleAreas[tr.dataset.group];
    });
    if (control.area) control.area.value = s.area;
    if (control.level) control.level.value = s.level;
    if (control.verdict) control.verdict.value = s.verdict;
    if (control.differs) control.differs.checked = s.differs;
    if (ruleBox) {
      ruleBox.hidden = !s.rule;
      ruleName.textContent = s.rule;
    }
    shownText.textContent = shown + " of " + rows.length + " rows";
    document.body.setAttribute("data-filter", format(s));
    document.body.setAttribute("data-shown", String(shown));
  }

  function go(change) {
    var s = parse(location.hash);
    Object.keys(change).forEach(function (k) {
      s[k] = change[k];
    });
    location.hash = format(s);
  }

  ["area", "level", "verdict"].forEach(function (k) {
    if (control[k]) control[k].addEventListener("change", function () {
      var change = {};
      change[k] = control[k].value;
      go(change);
    });
  });
  if (control.differs) control.differs.addEventListener("change", function () {
    go({ differs: control.differs.checked });
  });
  var clear = document.getElementById("clearrule");
  if (clear) clear.addEventListener("click", function (e) {
    e.preventDefault();
    go({ rule: "" });
  });
  Array.prototype.forEach.call(document.querySelectorAll("a[data-rule]"), function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      go({ rule: a.getAttribute("data-rule") });
    });
  });
  window.addEventListener("hashchange", apply);
  apply();
})();
