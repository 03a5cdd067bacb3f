# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One self-contained HTML page for a fleet: a matrix of controls by nodes, filters and details.

Everything is in the file: CSS and JavaScript inline, no URL of any kind, system fonts. The data
is one JSON document in a ``<script type="application/json">`` element, with ``<``, ``>`` and
``&`` written as JSON escapes so that no value can end the element; the inline script builds the
page from it with ``textContent`` only, so no value is ever read as markup.
"""

from __future__ import annotations

import html
import json
import re
import typing as t

from nodeguard_cli import __version__
from nodeguard_cli.reports.load import STATUSES, Report
from nodeguard_cli.reports.summary import now

DATA_ELEMENT_ID = "nodeguard-data"
_NUMBERED = re.compile(r"^\d+(\.\d+)*$")
# JSON escapes for the characters that could close the script element or confuse a parser.
_SCRIPT_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def section_prefix(section: t.Any) -> str:
    """The part of a benchmark section a reader filters by: ``5.4.1.1`` -> ``5.4``, ``3`` -> ``3``.

    A section that is not numbered (a curriculum topic, ``Cluster Setup: ...``) is grouped by the
    words before its first colon.
    """
    text = str(section).strip()
    if _NUMBERED.match(text):
        return ".".join(text.split(".")[:2])
    return text.split(":", 1)[0].strip()


def section_key(benchmark: str, section: t.Any) -> str:
    return f"{benchmark} \u00a7 {section_prefix(section)}"


def _natural(text: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text)]


def page_data(
    mode: str,
    reports: dict[str, Report],
    unreachable: list[dict[str, str]] | None = None,
    generated_at: str | None = None,
) -> dict[str, t.Any]:
    """What the page shows, as the JSON document it embeds."""
    missing = {entry["host"]: entry["reason"] for entry in unreachable or [] if entry["host"] not in reports}
    nodes = []
    for host in sorted(set(reports) | set(missing)):
        if host in missing:
            nodes.append({"host": host, "reachable": False, "reason": missing[host], "counts": None})
        else:
            report = reports[host]
            nodes.append(
                {
                    "host": host,
                    "reachable": True,
                    "reason": None,
                    "counts": report.counts(),
                    "generated_at": report.generated_at,
                }
            )
    controls: dict[str, dict[str, t.Any]] = {}
    for host in sorted(reports):
        for control in reports[host].controls:
            entry = controls.get(control["id"])
            if entry is None:
                refs = [
                    {"benchmark": ref["benchmark"], "section": str(ref["section"])} for ref in control["benchmarks"]
                ]
                entry = controls[control["id"]] = {
                    "id": control["id"],
                    "title": control["title"],
                    "level": control["level"],
                    "profile": control["profile"],
                    "benchmarks": refs,
                    "sections": sorted({section_key(ref["benchmark"], ref["section"]) for ref in refs}, key=_natural),
                    "results": {},
                }
            entry["results"][host] = {
                key: control[key] for key in ("status", "reason", "expected", "actual", "differences", "details")
            }
    rows = [controls[cid] for cid in sorted(controls, key=_natural)]
    return {
        "schema_version": 1,
        "mode": mode,
        "generated_at": generated_at or now(),
        "cli_version": __version__,
        "statuses": list(STATUSES),
        "nodes": nodes,
        "profiles": sorted({row["profile"] for row in rows if row["profile"]}),
        "sections": sorted({key for row in rows for key in row["sections"]}, key=_natural),
        "controls": rows,
    }


def embed_json(data: t.Any) -> str:
    """JSON that can sit inside a script element: nothing in it can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&\u2028\u2029]", lambda match: _SCRIPT_SAFE[match.group()], text)


def render_html(
    mode: str,
    reports: dict[str, Report],
    unreachable: list[dict[str, str]] | None = None,
    generated_at: str | None = None,
) -> str:
    data = page_data(mode, reports, unreachable, generated_at)
    title = html.escape(f"nodeguard {mode}: {len(data['nodes'])} nodes, {data['generated_at']}")
    return (
        _PAGE.replace("@TITLE@", title)
        .replace("@STYLE@", _STYLE)
        .replace("@SCRIPT@", _SCRIPT)
        .replace("@DATA_ID@", DATA_ELEMENT_ID)
        # Last: the data may hold any of the markers above, and must stay as it is.
        .replace("@DATA@", embed_json(data))
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@TITLE@</title>
<link rel="icon" href="data:,">
<style>@STYLE@</style>
</head>
<body>
<header>
<h1 id="heading">@TITLE@</h1>
<p id="generated"></p>
</header>
<main>
<section aria-labelledby="nodes-heading">
<h2 id="nodes-heading">Nodes</h2>
<table id="nodes">
<thead><tr><th scope="col">Node</th><th scope="col">Result</th></tr></thead>
<tbody></tbody>
</table>
</section>
<section aria-labelledby="matrix-heading">
<h2 id="matrix-heading">Controls by node</h2>
<form id="filters" role="search" aria-label="Filter the controls">
<fieldset id="filter-status"><legend>Status on any node</legend></fieldset>
<label>Profile <select id="filter-profile"><option value="">all profiles</option></select></label>
<label>Benchmark section <select id="filter-section"><option value="">all sections</option></select></label>
<label>Search <input type="search" id="filter-search" placeholder="id, title or reason" autocomplete="off"></label>
</form>
<p id="shown" aria-live="polite"></p>
<table id="matrix">
<caption>Select a control to see its benchmark references and, per node, the expected and actual values.</caption>
<thead><tr><th scope="col">Control</th></tr></thead>
<tbody></tbody>
</table>
<noscript><p>This page draws its tables with JavaScript; the same data is in fleet-summary.json and the
per-node reports.</p></noscript>
</section>
</main>
<script type="application/json" id="@DATA_ID@">@DATA@</script>
<script>@SCRIPT@</script>
</body>
</html>
"""

_STYLE = """
:root { color-scheme: light; --line: #c8ccd0; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1rem 1.5rem; color: #1b1f23;
  background: #fff; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; }
th, td { border: 1px solid var(--line); padding: .25rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f1f3f5; position: sticky; top: 0; z-index: 1; }
caption { text-align: left; padding: .25rem 0; color: #444; }
form#filters { display: flex; flex-wrap: wrap; gap: .75rem 1.5rem; align-items: end; }
fieldset { border: 1px solid var(--line); padding: .25rem .75rem; margin: 0; }
fieldset label { margin-right: .75rem; white-space: nowrap; }
select, input[type=search] { font: inherit; padding: .15rem .3rem; }
input[type=search] { min-width: 16rem; }
/* No box with overflow around the matrix: it would be the scroll container of the sticky header row and,
   never scrolling vertically, let that row go with the page. The page itself scrolls, both ways. */
#matrix th[scope=row] { font-weight: normal; min-width: 22rem; }
#matrix th[scope=row] button { font: inherit; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  background: none; border: 0; padding: 0; color: #0b4f9c; cursor: pointer; text-align: left; }
#matrix th[scope=row] button:focus-visible { outline: 2px solid #0b4f9c; outline-offset: 2px; }
#matrix th[scope=row] button::before { content: "\\25B8  "; }
#matrix th[scope=row] button[aria-expanded=true]::before { content: "\\25BE  "; }
.control-title { display: block; color: #444; font-size: .9rem; }
td.status { text-align: center; font-weight: 600; white-space: nowrap; }
.st-pass { background: #d4f4dd; color: #0d4d1f; }
.st-fixed { background: #d6e9fb; color: #0b3d70; }
.st-drift { background: #ffe0b3; color: #6b3a00; }
.st-skipped { background: #eceef0; color: #3d4349; }
.st-error { background: #fbd3d3; color: #7a0c0c; }
.st-none { background: #fff; color: #6b7075; font-weight: normal; font-style: italic; }
.st-unreachable { background: #f3d6f3; color: #5b145b; }
tr.detail > td { background: #fafbfc; }
.detail h3 { margin: .25rem 0; font-size: 1.05rem; }
.detail h4 { margin: .75rem 0 .25rem; font-size: 1rem; }
.detail dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .75rem; margin: 0; }
.detail dt { font-weight: 600; }
.detail dd { margin: 0; }
.detail pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: .85rem; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: .2rem; margin-left: .4rem; }
"""

# Builds every element with createElement and textContent: no value is parsed as HTML.
_SCRIPT = r"""
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("nodeguard-data").textContent);
  var statuses = data.statuses;
  var nodes = data.nodes;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        if (name === "text") { node.textContent = attrs[name]; }
        else { node.setAttribute(name, attrs[name]); }
      });
    }
    (children || []).forEach(function (child) { if (child) { node.appendChild(child); } });
    return node;
  }
  function show(value) {
    if (value === null || value === undefined) { return "none"; }
    if (typeof value === "string") { return value; }
    return JSON.stringify(value, null, 2);
  }
  function cellFor(control, node) {
    if (!node.reachable) { return { cls: "st-unreachable", text: "unreachable", label: "no report: " + node.reason }; }
    var result = control.results[node.host];
    if (!result) { return { cls: "st-none", text: "no result", label: "not in this node's report" }; }
    return { cls: "st-" + result.status, text: result.status, label: result.reason || result.status };
  }

  document.getElementById("generated").textContent =
    "Mode " + data.mode + ", generated " + data.generated_at + ", " + nodes.length + " nodes, " +
    data.controls.length + " controls.";

  var nodeBody = document.querySelector("#nodes tbody");
  nodes.forEach(function (node) {
    var text;
    if (node.reachable) {
      text = statuses.map(function (s) { return s + " " + node.counts[s]; }).join(", ");
    } else {
      text = "no report: " + node.reason;
    }
    nodeBody.appendChild(el("tr", null, [
      el("th", { scope: "row", text: node.host }),
      el("td", { text: text, "class": node.reachable ? "" : "st-unreachable" })
    ]));
  });

  var statusBox = document.getElementById("filter-status");
  statuses.forEach(function (status) {
    var box = el("input", { type: "checkbox", value: status, checked: "checked" });
    var label = el("label", { "class": "st-" + status + " badge" }, [box, document.createTextNode(" " + status)]);
    statusBox.appendChild(label);
  });
  var profileSelect = document.getElementById("filter-profile");
  data.profiles.forEach(function (profile) {
    profileSelect.appendChild(el("option", { value: profile, text: profile }));
  });
  var sectionSelect = document.getElementById("filter-section");
  data.sections.forEach(function (section) {
    sectionSelect.appendChild(el("option", { value: section, text: section }));
  });
  var search = document.getElementById("filter-search");

  var headRow = document.querySelector("#matrix thead tr");
  nodes.forEach(function (node) { headRow.appendChild(el("th", { scope: "col", text: node.host })); });

  function detailOf(control) {
    var parts = [el("h3", { text: control.title })];
    var refs = control.benchmarks.map(function (ref) { return el("li", { text: ref.benchmark + " " + ref.section }); });
    parts.push(el("p", { text: "Profile: " + (control.profile || "none") + "; level: " + show(control.level) }));
    parts.push(refs.length ? el("ul", { "aria-label": "Benchmark references" }, refs)
                           : el("p", { text: "No benchmark reference." }));
    nodes.forEach(function (node) {
      var cell = cellFor(control, node);
      parts.push(el("h4", null, [document.createTextNode(node.host),
                                  el("span", { "class": "badge " + cell.cls, text: cell.text })]));
      var result = control.results[node.host];
      if (!node.reachable || !result) { parts.push(el("p", { text: cell.label })); return; }
      var rows = [];
      function add(term, value) {
        rows.push(el("dt", { text: term }));
        rows.push(el("dd", null, [el("pre", { text: show(value) })]));
      }
      add("Reason", result.reason);
      add("Expected", result.expected);
      add("Actual", result.actual);
      parts.push(el("dl", null, rows));
      if (result.differences.length) {
        var head = el("tr", null, ["Item", "Where", "Expected", "Actual"].map(function (name) {
          return el("th", { scope: "col", text: name });
        }));
        var body = result.differences.map(function (d) {
          return el("tr", null, [d.item, d.where, d.expected, d.actual].map(function (value) {
            return el("td", null, [el("pre", { text: show(value) })]);
          }));
        });
        parts.push(el("table", { "aria-label": "Differences on " + node.host },
                      [el("thead", null, [head]), el("tbody", null, body)]));
      }
    });
    return parts;
  }

  var matrixBody = document.querySelector("#matrix tbody");
  var rows = data.controls.map(function (control, index) {
    var detailId = "detail-" + index;
    var button = el("button", { type: "button", "aria-expanded": "false", "aria-controls": detailId,
                                text: control.id });
    var cells = nodes.map(function (node) {
      var cell = cellFor(control, node);
      return el("td", { "class": "status " + cell.cls, title: cell.label }, [document.createTextNode(cell.text)]);
    });
    var row = el("tr", { "class": "control" }, [
      el("th", { scope: "row" }, [button, el("span", { "class": "control-title", text: control.title })])
    ].concat(cells));
    var detail = el("tr", { "class": "detail", id: detailId, hidden: "hidden" });
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") === "true";
      if (!open && !detail.firstChild) {
        detail.appendChild(el("td", { colspan: String(nodes.length + 1) }, detailOf(control)));
      }
      button.setAttribute("aria-expanded", open ? "false" : "true");
      detail.hidden = open;
    });
    matrixBody.appendChild(row);
    matrixBody.appendChild(detail);
    var text = [control.id, control.title].concat(Object.keys(control.results).map(function (host) {
      return control.results[host].reason || "";
    })).join("\n").toLowerCase();
    return { control: control, row: row, detail: detail, button: button, text: text };
  });

  function apply() {
    var wanted = {};
    Array.prototype.forEach.call(statusBox.querySelectorAll("input"), function (box) {
      wanted[box.value] = box.checked;
    });
    var profile = profileSelect.value;
    var section = sectionSelect.value;
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (entry) {
      var control = entry.control;
      var visible = Object.keys(control.results).some(function (host) {
          return wanted[control.results[host].status];
        }) &&
        (!profile || control.profile === profile) &&
        (!section || control.sections.indexOf(section) !== -1) &&
        words.every(function (word) { return entry.text.indexOf(word) !== -1; });
      entry.row.hidden = !visible;
      entry.detail.hidden = !visible || entry.button.getAttribute("aria-expanded") !== "true";
      if (visible) { shown += 1; }
    });
    document.getElementById("shown").textContent = shown + " of " + rows.length + " controls shown";
  }
  document.getElementById("filters").addEventListener("input", apply);
  document.getElementById("filters").addEventListener("change", apply);
  document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); });
  apply();
}());
"""
