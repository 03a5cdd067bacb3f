# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the fleet page (fleet-report.html) in a real headless Chromium, against the reports it was made from.

Every expectation comes from the JSON files next to the page: ``fleet-summary.json`` (the mode, the
nodes without a report) and the per-node reports of that mode (``NODE-audit.json`` or
``NODE-harden.json``). They are read here with plain ``json``, not with the code that wrote the page,
and the page is used as a reader uses it: opened as a ``file://`` URL, its checkboxes clicked, its
selects chosen, its search box typed into, its controls opened.

    with open_browser() as driver:
        checked = check_fleet_page(Path("nodeguard-reports"), driver, screenshot=Path("page.png"))

``check_fleet_page`` collects every fault it finds and raises one ``PageProblems`` listing them all.
Chromium and its driver are Debian's (``make deps``); Selenium is given the driver's path, so Selenium
Manager never looks for (or downloads) one.

By hand: ``python tests/fleet/fleet_page.py DIR [--screenshot PNG]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import sys
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError as exc:  # pragma: no cover - a missing tool, said plainly
    raise ImportError(f"{exc}: selenium is pinned in requirements/dev.txt; run `make venv`") from exc

PAGE_NAME = "fleet-report.html"
SUMMARY_NAME = "fleet-summary.json"
WINDOW = (1400, 1000)
CHROMIUM_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Nothing leaves the machine: a name the page tried to reach would not resolve, and be logged.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost",
)
MAKE_DEPS = "run `make deps` (Debian's chromium and chromium-driver)"
_NUMBERED = re.compile(r"^\d+(\.\d+)*$")
_LIST_LIMIT = 12

# The matrix as the browser renders it: one entry per control row.
_READ_MATRIX = """
function rendered(node) { return node.getClientRects().length > 0; }
var head = Array.prototype.map.call(document.querySelectorAll("#matrix thead th"), function (th) {
  return th.textContent;
});
var rows = Array.prototype.map.call(document.querySelectorAll("#matrix tbody tr.control"), function (row) {
  var button = row.querySelector("th button");
  var title = row.querySelector("th .control-title");
  return {
    id: button ? button.textContent : null,
    title: title ? title.textContent : null,
    visible: rendered(row),
    cells: Array.prototype.slice.call(row.children, 1).map(function (cell) {
      return { text: cell.innerText.trim(), classes: cell.className.split(/\\s+/), title: cell.title,
               visible: rendered(cell) };
    })
  };
});
var nodes = Array.prototype.map.call(document.querySelectorAll("#nodes tbody tr"), function (row) {
  return { host: row.children[0] ? row.children[0].textContent : null,
           text: row.children[1] ? row.children[1].innerText : null };
});
return { head: head, rows: rows, nodes: nodes, shown: (document.getElementById("shown") || {}).textContent };
"""
# Which control rows are rendered now, and what the page says it shows.
_READ_VISIBLE = """
var rows = Array.prototype.map.call(document.querySelectorAll("#matrix tbody tr.control"), function (row) {
  var button = row.querySelector("th button");
  return [button ? button.textContent : null, row.getClientRects().length > 0];
});
return { rows: rows, shown: (document.getElementById("shown") || {}).textContent,
         search: (document.getElementById("filter-search") || {}).value };
"""
_READ_BOXES = """
return Array.prototype.map.call(document.querySelectorAll("#filter-status input[type=checkbox]"), function (box) {
  return [box, box.value, box.checked];
});
"""
_READ_OPTIONS = """
var select = document.getElementById(arguments[0]);
return select ? Array.prototype.map.call(select.options, function (option) { return [option, option.value]; }) : [];
"""
# Whether the matrix's column headers are in view, and the matrix's top above the window's (scrolled past).
_READ_HEADER = """
var table = document.getElementById("matrix");
var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
  var box = th.getBoundingClientRect();
  var x = box.left + box.width / 2, y = box.top + box.height / 2;
  var seen = y >= 0 && y < innerHeight;
  if (seen && x >= 0 && x < innerWidth) { seen = th.contains(document.elementFromPoint(x, y)); }
  return [th.textContent, seen];
});
return { heads: heads, scrolled: table.getBoundingClientRect().top < 0 };
"""
_FIND_BUTTON = """
var buttons = document.querySelectorAll("#matrix tbody tr.control th button");
for (var i = 0; i < buttons.length; i += 1) { if (buttons[i].textContent === arguments[0]) { return buttons[i]; } }
return null;
"""
# A control's opened details: its references, and per node the badge, the fields and the differences.
_READ_DETAIL = """
var detail = arguments[0];
function rendered(node) { return node.getClientRects().length > 0; }
var refs = detail.querySelector("ul[aria-label='Benchmark references']");
var out = { visible: rendered(detail), text: detail.innerText,
            refs: refs ? Array.prototype.map.call(refs.querySelectorAll("li"), function (li) {
              return li.textContent; }) : [],
            nodes: {} };
Array.prototype.forEach.call(detail.querySelectorAll("h4"), function (h4) {
  var badge = h4.querySelector(".badge");
  var entry = { badge: badge ? badge.textContent : null, fields: {}, note: null, differences: null };
  var next = h4.nextElementSibling;
  if (next && next.tagName === "DL") {
    Array.prototype.forEach.call(next.querySelectorAll("dt"), function (dt) {
      var dd = dt.nextElementSibling;
      entry.fields[dt.textContent] = dd ? { text: dd.textContent, visible: rendered(dd) } : null;
    });
    var table = next.nextElementSibling;
    if (table && table.tagName === "TABLE") {
      entry.differences = table.querySelectorAll(":scope > tbody > tr").length;
    }
  } else if (next) {
    entry.note = next.textContent;
  }
  out.nodes[h4.firstChild ? h4.firstChild.textContent : ""] = entry;
});
return out;
"""


class BrowserMissing(RuntimeError):
    """Chromium or chromedriver is not installed, or does not start."""


class PageProblems(AssertionError):
    """What is wrong with the page, one line per fault."""

    def __init__(self, page: Path, problems: list[str]) -> None:
        self.page = page
        self.problems = list(problems)
        listing = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"{page}: {len(self.problems)} problem(s) in the browser:\n{listing}")


def browser_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver, from PATH; BrowserMissing saying to run `make deps`."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", chromedriver)) if path is None]
    if missing:
        raise BrowserMissing(f"{' and '.join(missing)} not found on PATH: {MAKE_DEPS}")
    return t.cast(str, chromium), t.cast(str, chromedriver)


@contextlib.contextmanager
def open_browser(window: tuple[int, int] = WINDOW) -> t.Iterator[t.Any]:
    """A headless Chromium driven by Selenium, console messages of every level recorded; quit at the end."""
    chromium, chromedriver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (*CHROMIUM_ARGUMENTS, f"--window-size={window[0]},{window[1]}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    except WebDriverException as exc:
        raise BrowserMissing(f"{chromium} with {chromedriver} does not start ({exc.msg}); {MAKE_DEPS}") from exc
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.contextmanager
def browser_or_fail(window: tuple[int, int] = WINDOW) -> t.Iterator[t.Any]:
    """``open_browser`` for a test: a Chromium that is missing or does not start fails it (never a skip)."""
    import pytest  # noqa: PLC0415  (the checker also runs by hand, without pytest)

    with contextlib.ExitStack() as stack:
        try:
            driver = stack.enter_context(open_browser(window))
        except BrowserMissing as exc:
            pytest.fail(str(exc), pytrace=False)
        yield driver


def section_group(benchmark: str, section: t.Any) -> str:
    """The benchmark section a reader filters by: two numbers deep, or the words before a colon."""
    text = str(section).strip()
    prefix = ".".join(text.split(".")[:2]) if _NUMBERED.match(text) else text.split(":", 1)[0].strip()
    return f"{benchmark} \u00a7 {prefix}"


@dataclass
class Control:
    """One control as the page must show it: described by the first node (by name) reporting it."""

    id: str
    title: str
    profile: str | None
    benchmarks: list[dict[str, t.Any]]
    results: dict[str, dict[str, t.Any]] = field(default_factory=dict)

    @property
    def sections(self) -> set[str]:
        return {section_group(ref["benchmark"], ref["section"]) for ref in self.benchmarks}

    @property
    def statuses(self) -> set[str]:
        return {result["status"] for result in self.results.values()}

    @property
    def search_text(self) -> str:
        reasons = [result["reason"] or "" for result in self.results.values()]
        return "\n".join([self.id, self.title, *reasons]).lower()


@dataclass
class Fleet:
    """What the report directory says: the mode, every node, every control."""

    directory: Path
    mode: str
    reports: dict[str, dict[str, t.Any]]
    unreachable: dict[str, str]
    controls: dict[str, Control]
    problems: list[str]

    @property
    def hosts(self) -> list[str]:
        return sorted(set(self.reports) | set(self.unreachable))

    @classmethod
    def load(cls, directory: Path) -> Fleet:
        summary_path = directory / SUMMARY_NAME
        if not (directory / PAGE_NAME).is_file() or not summary_path.is_file():
            raise FileNotFoundError(f"{directory} must hold {PAGE_NAME} and {SUMMARY_NAME}")
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
        mode = summary["mode"]
        reports = {}
        for path in sorted(directory.glob(f"*-{mode}.json")):
            host = path.name[: -len(f"-{mode}.json")]
            reports[host] = json.loads(path.read_text(encoding="utf-8"))
        problems = []
        if not reports:
            problems.append(f"{directory} holds no {mode} report, though {SUMMARY_NAME} is of mode {mode}")
        unreachable = {node["host"]: node["reason"] for node in summary.get("unreachable", [])}
        unreachable = {host: reason for host, reason in unreachable.items() if host not in reports}
        listed = {node["host"] for node in summary.get("nodes", []) if node.get("reachable")}
        if listed != set(reports):
            problems.append(
                f"{SUMMARY_NAME} lists reported nodes {sorted(listed)} but the directory holds {mode} "
                f"reports of {sorted(reports)}"
            )
        controls: dict[str, Control] = {}
        for host in sorted(reports):
            for item in reports[host]["controls"]:
                entry = controls.get(item["id"])
                if entry is None:
                    entry = controls[item["id"]] = Control(
                        item["id"], item["title"], item["profile"], list(item["benchmarks"])
                    )
                entry.results[host] = item
        return cls(directory, mode, reports, unreachable, controls, problems)

    def visible(self, statuses: set[str], profile: str = "", section: str = "", search: str = "") -> set[str]:
        """The controls a reader must see with these filters: the page's rules, written again here."""
        words = search.lower().split()
        return {
            control.id
            for control in self.controls.values()
            if control.statuses & statuses
            and (not profile or control.profile == profile)
            and (not section or section in control.sections)
            and all(word in control.search_text for word in words)
        }


def _listing(items: t.Iterable[t.Any]) -> str:
    items = sorted(items)
    more = f" and {len(items) - _LIST_LIMIT} more" if len(items) > _LIST_LIMIT else ""
    return ", ".join(str(item) for item in items[:_LIST_LIMIT]) + more


def _shown(value: t.Any) -> str:
    """How the page writes a value it was given as a string, or null."""
    return "none" if value is None else value


class _Checker:
    def __init__(self, fleet: Fleet, driver: t.Any) -> None:
        self.fleet = fleet
        self.driver = driver
        self.problems: list[str] = list(fleet.problems)
        self.checked: dict[str, t.Any] = {"filters": [], "details": [], "header_scrolled": False}
        self.statuses: set[str] = set()
        self.search_text = ""
        self.absent = "zq-no-such-word"

    # -- reading the page -------------------------------------------------------------------------
    def visible_rows(self, what: str) -> set[str]:
        state = self.driver.execute_script(_READ_VISIBLE)
        if state["search"] != self.search_text:
            self.problems.append(f"{what}: the search box holds {state['search']!r}, {self.search_text!r} was typed")
        shown = {cid for cid, visible in state["rows"] if visible}
        numbers = [int(n) for n in re.findall(r"\d+", state["shown"] or "")][:2]
        if numbers != [len(shown), len(state["rows"])]:
            self.problems.append(
                f"{what}: the page says {state['shown']!r} but {len(shown)} of {len(state['rows'])} rows are shown"
            )
        return shown

    def expect_rows(self, what: str, expected: set[str]) -> None:
        shown = self.visible_rows(what)
        self.checked["filters"].append(what)
        if shown != expected:
            self.problems.append(
                f"{what}: {len(shown)} controls shown, {len(expected)} expected; "
                f"missing: [{_listing(expected - shown)}], shown though they should not be: "
                f"[{_listing(shown - expected)}]"
            )

    # -- acting as a reader -----------------------------------------------------------------------
    def click(self, element: t.Any) -> None:
        """The wheel brings the element into view, the mouse clicks it: what a reader does."""
        ActionChains(self.driver, duration=0).scroll_to_element(element).move_to_element(element).click().perform()

    def tick(self, wanted: set[str]) -> None:
        for box, value, checked in self.driver.execute_script(_READ_BOXES):
            if checked != (value in wanted):
                self.click(box)

    def options(self, select_id: str) -> list[tuple[t.Any, str]]:
        return [tuple(pair) for pair in self.driver.execute_script(_READ_OPTIONS, select_id)]

    def choose(self, select_id: str, value: str) -> None:
        for option, option_value in self.options(select_id):
            if option_value == value:
                option.click()
                return
        self.problems.append(f"#{select_id} has no option {value!r}")

    def type_search(self, text: str, enter: bool = False) -> None:
        """Select what the search box holds, delete it, type ``text`` (then Enter): keys as a reader presses them."""
        box = self.driver.find_element(By.ID, "filter-search")
        box.send_keys(Keys.CONTROL + "a" + Keys.NULL + Keys.BACKSPACE + text + (Keys.ENTER if enter else ""))
        self.search_text = text

    def reset(self) -> None:
        self.tick(self.statuses)
        self.choose("filter-profile", "")
        self.choose("filter-section", "")
        self.type_search("")

    # -- the checks -------------------------------------------------------------------------------
    def matrix(self) -> bool:
        """One row per control, one column per node, each cell the node's status; False if unusable."""
        fleet, page = self.fleet, self.driver.execute_script(_READ_MATRIX)
        hosts = page["head"][1:]
        if sorted(hosts) != fleet.hosts:
            self.problems.append(f"matrix columns {hosts}, expected one per node: {fleet.hosts}")
        ids = [row["id"] for row in page["rows"]]
        if len(ids) != len(set(ids)) or set(ids) != set(fleet.controls):
            duplicates = {cid for cid in ids if ids.count(cid) > 1}
            self.problems.append(
                f"matrix rows: {len(ids)} rows for {len(fleet.controls)} controls; "
                f"missing: [{_listing(set(fleet.controls) - set(ids))}], "
                f"unknown: [{_listing(set(ids) - set(fleet.controls))}], twice: [{_listing(duplicates)}]"
            )
        if not page["rows"]:
            return False
        # Faults by column (the rows' own faults under None): a few of each, so none hides another.
        wrong: dict[str | None, list[str]] = {}
        for row in page["rows"]:
            control = fleet.controls.get(row["id"])
            if control is None:
                continue
            if not row["visible"]:
                wrong.setdefault(None, []).append(f"{row['id']}: its row is not shown when no filter is set")
            if row["title"] != control.title:
                wrong.setdefault(None, []).append(f"{row['id']}: title {row['title']!r}, expected {control.title!r}")
            if len(row["cells"]) != len(hosts):
                wrong.setdefault(None, []).append(f"{row['id']}: {len(row['cells'])} cells for {len(hosts)} nodes")
                continue
            for host, cell in zip(hosts, row["cells"]):
                result = control.results.get(host)
                if host in fleet.unreachable:
                    want, css = "unreachable", "st-unreachable"
                elif result is None:
                    want, css = "no result", "st-none"
                else:
                    want, css = result["status"], "st-" + result["status"]
                if cell["text"] != want or css not in cell["classes"] or not cell["visible"]:
                    wrong.setdefault(host, []).append(
                        f"{row['id']} on {host}: cell shows {cell['text']!r} (class {' '.join(cell['classes'])!r}"
                        f"{'' if cell['visible'] else ', not rendered'}), expected {want!r} ({css})"
                    )
                if host in fleet.unreachable and fleet.unreachable[host] not in cell["title"]:
                    wrong.setdefault(host, []).append(
                        f"{row['id']} on {host}: the cell's tooltip {cell['title']!r} lacks the reason"
                    )
        for column, lines in wrong.items():
            label = "matrix cell" if column else "matrix row"
            self.problems.extend(f"{label} {line}" for line in lines[:3])
            if len(lines) > 3:
                self.problems.append(f"{label}s: {len(lines) - 3} more faults{f' on {column}' if column else ''}")
        self.nodes_table(page["nodes"])
        self.checked.update(nodes=len(hosts), controls=len(ids))
        return True

    def nodes_table(self, rows: list[dict[str, t.Any]]) -> None:
        fleet = self.fleet
        if sorted(row["host"] for row in rows) != fleet.hosts:
            self.problems.append(f"nodes table lists {[row['host'] for row in rows]}, expected {fleet.hosts}")
        for row in rows:
            text = row["text"] or ""
            if row["host"] in fleet.unreachable:
                if fleet.unreachable[row["host"]] not in text:
                    self.problems.append(f"nodes table: {row['host']} shows {text!r}, not why it has no report")
            elif row["host"] in fleet.reports:
                statuses = [item["status"] for item in fleet.reports[row["host"]]["controls"]]
                for status in sorted(set(statuses) | set(fleet.reports[row["host"]]["summary"])):
                    if f"{status} {statuses.count(status)}" not in text:
                        self.problems.append(
                            f"nodes table: {row['host']} shows {text!r}, expected {status} {statuses.count(status)}"
                        )

    def status_filter(self) -> None:
        fleet = self.fleet
        values = [value for _box, value, _checked in self.driver.execute_script(_READ_BOXES)]
        self.statuses = set(values)
        present = {status for control in fleet.controls.values() for status in control.statuses}
        if not present <= self.statuses:
            self.problems.append(f"status filter offers {values}, the reports hold {sorted(present)}")
        everything = set(fleet.controls)
        for status in values:
            self.tick({status})
            self.expect_rows(f"status filter: only {status}", fleet.visible({status}))
        self.tick(set())
        self.expect_rows("status filter: no status ticked", set())
        self.tick(self.statuses)
        self.expect_rows("status filter: every status ticked again", everything)

    def select_filter(self, select_id: str, name: str, expected: set[str], rows: t.Callable[[str], set[str]]) -> None:
        values = [value for _option, value in self.options(select_id)]
        offered = set(values) - {""}
        if offered != expected or "" not in values:
            self.problems.append(
                f"{name} filter offers [{_listing(offered)}], expected an 'all' choice and [{_listing(expected)}]"
            )
        for value in values:
            if value:
                self.choose(select_id, value)
                self.expect_rows(f"{name} filter: {value}", rows(value))
        self.choose(select_id, "")
        self.expect_rows(f"{name} filter: all", set(self.fleet.controls))

    def search(self) -> None:
        fleet = self.fleet
        controls = sorted(fleet.controls.values(), key=lambda control: control.id)
        drifted = [control for control in controls if "drift" in control.statuses] or controls
        first = drifted[0]
        others = "\n".join(f"{control.id}\n{control.title}".lower() for control in controls)
        # A word only a reason holds: a search that ignored reasons would miss it.
        reason_words = [
            word
            for control in controls
            for result in control.results.values()
            for word in (result["reason"] or "").split()
            if word.lower() not in others
        ]
        absent = "zq"
        while any(absent in control.search_text for control in controls):
            absent += "zq"
        # Part of an id, in capitals: the search ignores case.
        searches = [first.id.rsplit(".", 1)[-1].upper(), absent]
        if reason_words:
            # Two words, one from a title, one from a reason: a control must hold both.
            word = max(reason_words, key=len)
            holder = next(c for c in controls if word.lower() in c.search_text)
            searches += [word, f"{(holder.title.split() or [holder.id])[-1]} {word}"]
        self.absent = absent
        for number, text in enumerate(searches, 1):
            # The last one ends with Enter, as a reader often does: the page must stay as it is.
            self.type_search(text, enter=number == len(searches))
            self.expect_rows(f"search {text!r}", fleet.visible(self.statuses, search=text))
        self.type_search("")
        self.expect_rows("search cleared", set(fleet.controls))

    def combined(self) -> None:
        fleet = self.fleet
        profiles = sorted({c.profile for c in fleet.controls.values() if c.profile})
        if profiles and "drift" in self.statuses:
            self.tick({"drift"})
            self.choose("filter-profile", profiles[0])
            self.expect_rows(f"only drift and profile {profiles[0]}", fleet.visible({"drift"}, profile=profiles[0]))
        self.reset()
        self.expect_rows("every filter reset", set(fleet.controls))

    def header(self) -> None:
        """Scrolled down to the last control, the node names still head the columns."""
        buttons = self.driver.find_elements(By.CSS_SELECTOR, "#matrix tbody tr.control th button")
        if not buttons:
            return
        ActionChains(self.driver, duration=0).scroll_to_element(buttons[-1]).perform()
        state = self.driver.execute_script(_READ_HEADER)
        hidden = [name for name, seen in state["heads"] if not seen]
        if hidden:
            self.problems.append(f"column headers out of view once scrolled to the last control: {_listing(hidden)}")
        self.checked["header_scrolled"] = state["scrolled"]
        self.driver.execute_script("window.scrollTo(0, 0);")

    def details(self, count: int, screenshot: Path | None) -> None:
        """Open ``count`` controls: one of each status found, drift first, then drift ones across the list."""
        controls = sorted(self.fleet.controls.values(), key=lambda control: control.id)
        drifted = [control for control in controls if "drift" in control.statuses]
        picked = [
            next(control for control in controls if status in control.statuses)
            for status in ("drift", "error", "fixed", "skipped", "pass")
            if any(status in control.statuses for control in controls)
        ]
        picked += [drifted[round(i * (len(drifted) - 1) / max(count - 1, 1))] for i in range(min(count, len(drifted)))]
        picked = list({control.id: control for control in picked}.values())[: max(count, 1)]
        for index, control in enumerate(picked):
            self.detail(control, screenshot if index == 0 else None, hide_check=index == 0)

    def portrait(self, screenshot: Path) -> None:
        """The picture for the docs: only drift shown (if any), from the top, the first drift control open."""
        self.reset()
        drifted = sorted(control.id for control in self.fleet.controls.values() if "drift" in control.statuses)
        if drifted:
            self.tick({"drift"})
        self.driver.execute_script("window.scrollTo(0, 0);")
        button = self.driver.execute_script(_FIND_BUTTON, drifted[0]) if drifted else None
        if button is not None:
            button.click()
        self.driver.execute_script("window.scrollTo(0, 0);")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        if not self.driver.save_screenshot(str(screenshot)):
            self.problems.append(f"no screenshot written to {screenshot}")
        if button is not None:
            button.click()
        self.reset()

    def detail(self, control: Control, screenshot: Path | None, hide_check: bool) -> None:
        button = self.driver.execute_script(_FIND_BUTTON, control.id)
        if button is None:
            self.problems.append(f"details of {control.id}: no button to open them")
            return
        self.click(button)
        detail = self.driver.find_element(By.ID, button.get_attribute("aria-controls"))
        page = self.driver.execute_script(_READ_DETAIL, detail)
        where = f"details of {control.id}"
        self.checked["details"].append(control.id)
        if button.get_attribute("aria-expanded") != "true" or not page["visible"]:
            self.problems.append(f"{where}: not shown after a click on the control")
        if control.title not in page["text"]:
            self.problems.append(f"{where}: no title {control.title!r}")
        for ref in control.benchmarks:
            if not any(ref["benchmark"] in li and str(ref["section"]) in li for li in page["refs"]):
                self.problems.append(
                    f"{where}: reference {ref['benchmark']} {ref['section']} not in the list {page['refs']}"
                )
        if len(page["refs"]) != len(control.benchmarks):
            self.problems.append(f"{where}: {len(page['refs'])} references shown, {len(control.benchmarks)} expected")
        for host in self.fleet.hosts:
            self.detail_node(where, control, host, page["nodes"].get(host))
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            if not self.driver.save_screenshot(str(screenshot)):
                self.problems.append(f"no screenshot written to {screenshot}")
        if hide_check:
            # Open details go with their row: hidden by a filter that hides it, back with it.
            self.type_search(self.absent)
            if detail.is_displayed():
                self.problems.append(f"{where}: still shown while a search hides its control")
            self.type_search("")
            if not detail.is_displayed():
                self.problems.append(f"{where}: not shown again once the search is cleared")
        self.click(button)
        if detail.is_displayed() or button.get_attribute("aria-expanded") != "false":
            self.problems.append(f"{where}: still open after a second click")

    def detail_node(self, where: str, control: Control, host: str, shown: dict[str, t.Any] | None) -> None:
        if shown is None:
            self.problems.append(f"{where}: nothing for node {host}")
            return
        result = control.results.get(host)
        if host in self.fleet.unreachable:
            reason = self.fleet.unreachable[host]
            if shown["badge"] != "unreachable" or reason not in (shown["note"] or ""):
                self.problems.append(f"{where} on {host}: {shown}, expected unreachable with {reason!r}")
            return
        if result is None:
            if shown["badge"] != "no result":
                self.problems.append(f"{where} on {host}: badge {shown['badge']!r}, expected 'no result'")
            return
        if shown["badge"] != result["status"]:
            self.problems.append(f"{where} on {host}: badge {shown['badge']!r}, expected {result['status']!r}")
        for name, key in (("Reason", "reason"), ("Expected", "expected"), ("Actual", "actual")):
            value, got = result[key], (shown["fields"].get(name) or {})
            if not got.get("visible"):
                self.problems.append(f"{where} on {host}: no {name} shown")
            elif not _same_value(value, got.get("text")):
                self.problems.append(f"{where} on {host}: {name} shows {got.get('text')!r}, the report holds {value!r}")
        if (shown["differences"] or 0) != len(result["differences"]):
            self.problems.append(
                f"{where} on {host}: {shown['differences'] or 0} differences shown, "
                f"the report holds {len(result['differences'])}"
            )

    def console(self) -> None:
        for entry in self.driver.get_log("browser"):
            if entry["level"] in ("SEVERE", "WARNING"):
                self.problems.append(f"console {entry['level']} ({entry.get('source')}): {entry['message']}")

    def network(self, page_url: str) -> None:
        requests = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                if url != page_url and not url.startswith("data:"):
                    requests.append(url)
        if requests:
            self.problems.append(f"network requests besides the page itself: {_listing(set(requests))}")
        resources = self.driver.execute_script(
            "return performance.getEntriesByType('resource').map(function (entry) { return entry.name; });"
        )
        if resources:
            self.problems.append(f"resources loaded by the page: {_listing(set(resources))}")


def _same_value(value: t.Any, text: str | None) -> bool:
    """Whether the text of a value the page shows is that JSON value: strings as they are, null as none."""
    if text is None:
        return False
    if value is None or isinstance(value, str):
        return text == _shown(value)
    try:
        return json.loads(text) == value
    except ValueError:
        return False


def check_fleet_page(
    directory: Path | str, driver: t.Any, screenshot: Path | str | None = None, details: int = 6
) -> dict[str, t.Any]:
    """Open DIR/fleet-report.html in ``driver`` and check it against DIR's reports; PageProblems if wrong.

    ``details``: how many controls to open: one of each status (a drift one first), then drift ones
    spread over the list. The screenshot, if asked for, shows the page filtered to drift from the top,
    with the first drift control open. Returns what was
    checked: ``nodes``, ``controls``, ``filters`` (the filter states), ``details`` (the ids opened) and
    ``header_scrolled`` (whether the matrix was long enough for its header row to need to stay in view).
    """
    directory = Path(directory)
    fleet = Fleet.load(directory)
    page = (directory / PAGE_NAME).resolve()
    checker = _Checker(fleet, driver)
    # Forget what an earlier page left in the logs.
    driver.get_log("browser")
    driver.get_log("performance")
    driver.get(page.as_uri())
    try:
        if checker.matrix():
            checker.status_filter()
            profiles = {c.profile for c in fleet.controls.values() if c.profile}
            checker.select_filter(
                "filter-profile", "profile", profiles, lambda value: fleet.visible(checker.statuses, profile=value)
            )
            sections = {section for c in fleet.controls.values() for section in c.sections}
            checker.select_filter(
                "filter-section", "section", sections, lambda value: fleet.visible(checker.statuses, section=value)
            )
            checker.search()
            checker.combined()
            checker.header()
            checker.details(details, None)
            if screenshot:
                checker.portrait(Path(screenshot))
        elif screenshot:
            driver.save_screenshot(str(screenshot))
    except WebDriverException as exc:
        checker.problems.append(f"the page could not be used: {type(exc).__name__}: {exc.msg}")
    finally:
        checker.console()
        checker.network(page.as_uri())
    if checker.problems:
        raise PageProblems(page, checker.problems)
    return checker.checked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("directory", type=Path, help=f"holds {PAGE_NAME}, {SUMMARY_NAME} and the per-node reports")
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the page with a control's details open")
    args = parser.parse_args(argv)
    try:
        with open_browser() as driver:
            checked = check_fleet_page(args.directory, driver, args.screenshot)
    except (BrowserMissing, PageProblems) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"{args.directory / PAGE_NAME}: {checked['nodes']} nodes, {checked['controls']} controls, "
        f"{len(checked['filters'])} filter states, {len(checked['details'])} details: all as the reports say"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
