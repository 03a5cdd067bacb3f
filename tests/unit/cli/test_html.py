# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet page: self-contained, its data intact, nothing in the data read as markup.

What its script draws, and how its filters and details behave, is tested in a real browser:
test_html_browser.py.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from nodeguard_cli.reports.html import embed_json, page_data, render_html, section_key, section_prefix
from nodeguard_cli.reports.load import load_reports, select_mode

from .builders import control, report, write

STAMP = "2026-12-07T01:00:00+00:00"
HOSTILE = '</script><img src=x onerror="alert(1)"><script>alert(2)</script> & \u2028 <!-- -->'


class Collector(HTMLParser):
    """Every tag with its attributes, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_data(self, data) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag) -> None:
        if tag == "script":
            self._in_script = None


def _page(folder: Path, unreachable=None) -> tuple[str, dict]:
    mode, reports = select_mode(load_reports(folder), None, folder)
    return render_html(mode, reports, unreachable, STAMP), page_data(mode, reports, unreachable, STAMP)


def _parse(text: str) -> Collector:
    collector = Collector()
    collector.feed(text)
    collector.close()
    return collector


@pytest.mark.parametrize(
    ("section", "prefix"),
    [
        ("5.4.1.1", "5.4"),
        ("4.2", "4.2"),
        ("3", "3"),
        (" 1.2.10 ", "1.2"),
        ("Cluster Setup: protect node metadata and endpoints", "Cluster Setup"),
        ("System Hardening", "System Hardening"),
        (412, "412"),
    ],
)
def test_section_prefix(section, prefix: str) -> None:
    assert section_prefix(section) == prefix


def test_no_url_anywhere(fleet_dir: Path) -> None:
    text = _page(fleet_dir)[0]
    parsed = _parse(text)
    links = [value for _tag, attrs in parsed.tags for key, value in attrs.items() if key in ("src", "href", "action")]
    assert links == ["data:,"]
    for tag, attrs in parsed.tags:
        assert not (tag == "link" and attrs.get("rel") == "stylesheet")
        assert not (tag == "script" and "src" in attrs)
    assert not re.search(r"(?i)https?:|url\(|@import|//[a-z0-9]", text.replace("\\u", "")), "a URL in the page"


def test_the_data_blob_round_trips(fleet_dir: Path) -> None:
    text, data = _page(fleet_dir, [{"host": "node3", "reason": "refused"}])
    blobs = [body for attrs, body in _parse(text).scripts if attrs.get("type") == "application/json"]
    assert len(blobs) == 1
    assert json.loads(blobs[0]) == json.loads(json.dumps(data))
    assert [node["host"] for node in data["nodes"]] == ["node1", "node2", "node3"]
    assert data["nodes"][2] == {"host": "node3", "reachable": False, "reason": "refused", "counts": None}
    assert data["profiles"] == ["Level 1 - Server"]
    assert data["sections"] == [
        section_key("CIS Debian Linux 12 v1.1.0", "5.2.1"),
        "CIS Kubernetes Benchmark v1.12 \u00a7 4.2",
    ]
    one = next(row for row in data["controls"] if row["id"] == "cis.a.one")
    assert one["results"]["node1"]["status"] == "pass"
    assert one["results"]["node2"]["differences"] == [
        {"item": "cis.a.one", "where": "live", "expected": "1", "actual": "0"}
    ]


@pytest.mark.parametrize("field", ["title", "reason", "actual", "profile"])
def test_hostile_text_cannot_leave_the_data_element(tmp_path: Path, field: str) -> None:
    write(tmp_path, report("node1", controls=[control("cis.a.one", "drift", **{field: HOSTILE})]))
    text, data = _page(tmp_path)
    parsed = _parse(text)
    assert [tag for tag, _attrs in parsed.tags if tag in ("script", "img")] == ["script", "script"]
    assert text.count("</script>") == 2
    assert "<img" not in text
    blob = next(body for attrs, body in parsed.scripts if attrs.get("type") == "application/json")
    found = data["controls"][0] if field in ("title", "profile") else data["controls"][0]["results"]["node1"]
    assert json.loads(blob) == json.loads(json.dumps(data))
    assert found[field] == HOSTILE


def test_a_hostile_host_name_is_escaped_too(tmp_path: Path) -> None:
    write(tmp_path, report("node1"))
    mode, reports = select_mode(load_reports(tmp_path), None, tmp_path)
    text = render_html(mode, reports, [{"host": "<b>x</b>", "reason": HOSTILE}], STAMP)
    assert text.count("</script>") == 2
    assert "<b>" not in text


@pytest.mark.parametrize("character", ["<", ">", "&", "\u2028", "\u2029"])
def test_embed_json_escapes(character: str) -> None:
    text = embed_json({"k": f"a{character}b"})
    assert character not in text
    assert json.loads(text) == {"k": f"a{character}b"}
