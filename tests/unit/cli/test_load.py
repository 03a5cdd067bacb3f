# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a directory of per-node reports, and refusing what is not a schema 1 report."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest
from nodeguard_cli.reports.load import (
    ReportError,
    load_report,
    load_reports,
    load_unreachable,
    select_mode,
    split_name,
)

from .builders import control, report, write


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("node1-audit.json", ("node1", "audit")),
        ("node1-harden.json", ("node1", "harden")),
        ("web-01.example.org-audit.json", ("web-01.example.org", "audit")),
        ("x-audit-harden.json", ("x-audit", "harden")),
        ("node1-check.json", None),
        ("-audit.json", None),
        ("node1-audit.yml", None),
        ("fleet-summary.json", None),
    ],
)
def test_split_name(name: str, expected: tuple[str, str] | None) -> None:
    assert split_name(name) == expected


def test_loads_every_report_sorted_and_ignores_other_files(fleet_dir: Path) -> None:
    write(fleet_dir, report("node0", "harden"))
    (fleet_dir / "fleet-summary.json").write_text("{}", encoding="utf-8")
    (fleet_dir / "notes.txt").write_text("not a report", encoding="utf-8")
    loaded = load_reports(fleet_dir)
    assert [(r.host, r.mode) for r in loaded] == [("node0", "harden"), ("node1", "audit"), ("node2", "audit")]
    assert loaded[2].counts() == {"pass": 0, "fixed": 1, "drift": 0, "skipped": 1, "error": 1}


def test_reads_the_collections_own_example(tmp_path: Path) -> None:
    # A report as the report role writes it (to_nice_json), trimmed to two controls.
    document = report("node1", controls=[control("cis.x.one", "skipped", level=None, profile=None, expected=None)])
    path = tmp_path / "node1-audit.json"
    path.write_text(json.dumps(document, indent=4, sort_keys=False) + "\n", encoding="utf-8")
    assert load_report(path).controls[0]["id"] == "cis.x.one"


def _without(key: str) -> t.Callable[[dict], None]:
    return lambda doc: doc.pop(key)


def _control_without(key: str) -> t.Callable[[dict], None]:
    return lambda doc: doc["controls"][0].pop(key)


def _set(key: str, value: t.Any) -> t.Callable[[dict], None]:
    return lambda doc: doc.__setitem__(key, value)


def _set_control(key: str, value: t.Any) -> t.Callable[[dict], None]:
    return lambda doc: doc["controls"][0].__setitem__(key, value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("schema_version", 2), "schema_version 2; this nodeguard reads 1 only"),
        (_without("schema_version"), "schema_version null"),
        (_set("schema_version", True), "schema_version true"),
        (_set("schema_version", "1"), 'schema_version "1"'),
        (_without("controls"), "has no 'controls'"),
        (_set("controls", {}), "'controls' must be a list"),
        (_set("host", "node9"), "named for node 'node1' but reports on 'node9'"),
        (_set("mode", "harden"), "named for mode 'audit' but holds a 'harden' report"),
        (_set("summary", {"pass": 9}), "does not match its controls"),
        (_control_without("status"), "controls[0] (cis.a.one) has no 'status'"),
        (_control_without("actual"), "controls[0] (cis.a.one) has no 'actual'"),
        (_set_control("status", "ok"), "has status 'ok', not one of pass, fixed, drift, skipped, error"),
        (_set_control("level", True), "'level' must be an integer or null"),
        (_set_control("benchmarks", [{"section": "1.1"}]), "benchmark reference without"),
        (_set_control("differences", [{"item": "x"}]), "a difference without item, where, expected, actual"),
        (_set_control("id", "cis.a.two"), "reports control 'cis.a.two' twice"),
        (lambda doc: doc["controls"].__setitem__(0, "cis.a.one"), "controls[0] is not an object"),
    ],
)
def test_refuses_a_malformed_report_naming_file_and_fault(tmp_path: Path, change, message: str) -> None:
    document = report("node1")
    change(document)
    path = write(tmp_path, document, "node1-audit.json")
    with pytest.raises(ReportError) as caught:
        load_reports(tmp_path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "is not JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ("[1, 2]", "holds a JSON list, not a report object"),
        ("", "is not JSON"),
    ],
)
def test_refuses_what_is_not_a_json_object(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "node1-audit.json").write_text(text, encoding="utf-8")
    with pytest.raises(ReportError, match="node1-audit.json: " + message.split(":", maxsplit=1)[0]):
        load_reports(tmp_path)


def test_refuses_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "node1-audit.json").write_bytes(b'{"host": "\xff"}')
    with pytest.raises(ReportError, match="is not UTF-8 text"):
        load_reports(tmp_path)


def test_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="is not a directory"):
        load_reports(tmp_path / "absent")


@pytest.mark.parametrize(
    ("present", "mode", "chosen", "error"),
    [
        (["audit"], None, "audit", None),
        (["harden"], None, "harden", None),
        (["audit", "harden"], "harden", "harden", None),
        (["audit", "harden"], None, None, "both audit and harden reports; choose one with --mode"),
        ([], None, None, "holds no report"),
        (["audit"], "harden", None, "holds no harden report"),
    ],
)
def test_select_mode(
    tmp_path: Path, present: list[str], mode: str | None, chosen: str | None, error: str | None
) -> None:
    for kind in present:
        write(tmp_path, report("node1", kind))
    reports = load_reports(tmp_path)
    if error:
        with pytest.raises(ReportError, match=error):
            select_mode(reports, mode, tmp_path)
    else:
        picked, by_host = select_mode(reports, mode, tmp_path)
        assert picked == chosen
        assert by_host["node1"].mode == chosen


@pytest.mark.parametrize(
    ("content", "expected", "error"),
    [
        (None, [], None),
        (
            {"schema_version": 1, "unreachable": [{"host": "n3", "reason": "timeout"}]},
            [{"host": "n3", "reason": "timeout"}],
            None,
        ),
        ({"schema_version": 2, "unreachable": []}, None, "not a fleet summary of schema_version 1"),
        ({"schema_version": 1, "unreachable": [{"host": "n3"}]}, None, "must be a list of"),
    ],
)
def test_load_unreachable(tmp_path: Path, content, expected, error) -> None:
    if content is not None:
        (tmp_path / "fleet-summary.json").write_text(json.dumps(content), encoding="utf-8")
    if error:
        with pytest.raises(ReportError, match=error):
            load_unreachable(tmp_path)
    else:
        assert load_unreachable(tmp_path) == expected
