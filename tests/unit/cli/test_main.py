# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The command line: arguments, what report and diff write, and their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nodeguard_cli.main import main

from .builders import control, report, write


@pytest.mark.parametrize(
    ("argv", "code", "stderr_part"),
    [
        ([], 3, "the following arguments are required: COMMAND"),
        (["frobnicate"], 3, "invalid choice: 'frobnicate'"),
        (["report"], 3, "the following arguments are required: DIR"),
        (["report", "x", "--format", "xml"], 3, "unknown format xml"),
        (["report", "x", "--fail-on", "always"], 3, "invalid choice: 'always'"),
        (["diff", "only-one"], 3, "the following arguments are required: NEW"),
        (["audit"], 3, "the following arguments are required: -i/--inventory"),
        (["audit", "-i", "inv", "--forks", "0"], 3, "'0' is not a positive whole number"),
        (["harden", "-i", "inv", "--forks", "many"], 3, "'many' is not a positive whole number"),
        (["audit", "-i", "inv", "--controls", "Not An Id"], 3, "--controls: Not An Id is not a control id"),
        (
            ["audit", "-i", "inv", "--skip", "cis.a.b", "--controls", "cis.a.b"],
            3,
            "given to both --controls and --skip",
        ),
        (["audit", "-i", "/nonexistent/inventory.yml"], 3, "inventory /nonexistent/inventory.yml does not exist"),
    ],
)
def test_usage_errors_exit_3(capsys, argv: list[str], code: int, stderr_part: str) -> None:
    assert main(argv, runner=_no_runner) == code
    assert stderr_part in capsys.readouterr().err


def _no_runner(**_kwargs):
    raise AssertionError("a usage error must stop before anything runs")


@pytest.mark.parametrize("argv", [["--help"], ["audit", "--help"], ["report", "--help"], ["diff", "--help"]])
def test_help_documents_the_exit_codes(capsys, argv: list[str]) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    for line in ("0  every control passes", "1  drift found", "2  controls in error", "3  usage errors"):
        assert line in out


def test_report_writes_every_format_next_to_the_reports(capsys, fleet_dir: Path) -> None:
    assert main(["report", str(fleet_dir)]) == 0
    out = capsys.readouterr().out
    assert "node1      1      0      1        0      0" in out
    names = sorted(path.name for path in fleet_dir.iterdir())
    assert names == [
        "fleet-junit.xml",
        "fleet-report.html",
        "fleet-summary.json",
        "node1-audit.json",
        "node2-audit.json",
    ]
    summary = json.loads((fleet_dir / "fleet-summary.json").read_text(encoding="utf-8"))
    assert summary["totals"]["nodes"] == 2
    # The outputs are not reports: a second run reads the same two nodes.
    assert main(["report", str(fleet_dir), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("formats", "files"),
    [
        ("json", ["fleet-summary.json"]),
        ("junit,html", ["fleet-junit.xml", "fleet-report.html"]),
        ("html, json ,html", ["fleet-report.html", "fleet-summary.json"]),
    ],
)
def test_report_formats_and_output(tmp_path: Path, fleet_dir: Path, formats: str, files: list[str]) -> None:
    out = tmp_path / "out" / "deeper"
    assert main(["report", str(fleet_dir), "--format", formats, "--output", str(out), "--quiet"]) == 0
    assert sorted(path.name for path in out.iterdir()) == files


@pytest.mark.parametrize(
    ("statuses", "unreachable", "fail_on", "code"),
    [
        (["pass", "skipped"], False, "drift", 0),
        (["pass", "drift"], False, "drift", 1),
        (["pass", "drift"], False, "error", 0),
        (["error", "drift"], False, "drift", 2),
        (["pass"], True, "drift", 2),
        (["pass"], True, "error", 2),
        (["error", "drift"], True, "never", 0),
    ],
)
def test_report_exit_codes(tmp_path: Path, statuses, unreachable: bool, fail_on: str, code: int) -> None:
    controls = [control(f"cis.a.c{index}", status) for index, status in enumerate(statuses)]
    write(tmp_path, report("node1", controls=controls))
    if unreachable:
        document = {"schema_version": 1, "unreachable": [{"host": "node2", "reason": "timed out"}]}
        (tmp_path / "fleet-summary.json").write_text(json.dumps(document), encoding="utf-8")
    assert main(["report", str(tmp_path), "--fail-on", fail_on, "--quiet"]) == code


def test_report_keeps_unreachable_nodes_of_an_earlier_run(tmp_path: Path) -> None:
    write(tmp_path, report("node1"))
    document = {"schema_version": 1, "unreachable": [{"host": "node2", "reason": "timed out"}]}
    (tmp_path / "fleet-summary.json").write_text(json.dumps(document), encoding="utf-8")
    assert main(["report", str(tmp_path), "--format", "json", "--quiet"]) == 0
    summary = json.loads((tmp_path / "fleet-summary.json").read_text(encoding="utf-8"))
    assert summary["unreachable"] == [{"host": "node2", "reason": "timed out"}]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: write(d, report("node1", schema_version=2)), "node1-audit.json: has schema_version 2"),
        (lambda d: (d / "node1-audit.json").write_text("{", encoding="utf-8"), "node1-audit.json: is not JSON"),
        (lambda d: (write(d, report("node1")), write(d, report("node1", "harden"))), "choose one with --mode"),
        (lambda d: None, "holds no report"),
    ],
)
def test_report_refuses_bad_input_with_exit_3(capsys, tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path)
    assert main(["report", str(tmp_path)]) == 3
    assert message in capsys.readouterr().err


def test_report_mode_chooses(tmp_path: Path) -> None:
    write(tmp_path, report("node1"))
    write(tmp_path, report("node1", "harden", controls=[control("cis.a.one", "fixed")]))
    assert main(["report", str(tmp_path), "--mode", "harden", "--format", "json", "--quiet"]) == 0
    summary = json.loads((tmp_path / "fleet-summary.json").read_text(encoding="utf-8"))
    assert (summary["mode"], summary["totals"]["fixed"]) == ("harden", 1)


@pytest.mark.parametrize(
    ("old", "new", "code", "line"),
    [
        ("pass", "pass", 0, "node1: no change"),
        ("drift", "pass", 0, "  fixed (1)"),
        ("pass", "drift", 1, "  new drift (1)"),
        ("drift", "error", 2, "  new errors (1)"),
    ],
)
def test_diff_end_to_end(capsys, tmp_path: Path, old: str, new: str, code: int, line: str) -> None:
    write(tmp_path / "old", report("node1", controls=[control("cis.a.one", old)]))
    write(tmp_path / "new", report("node1", controls=[control("cis.a.one", new)]))
    assert main(["diff", str(tmp_path / "old"), str(tmp_path / "new")]) == code
    assert line in capsys.readouterr().out.splitlines()
    assert main(["diff", str(tmp_path / "old"), str(tmp_path / "new"), "--json"]) == code
    document = json.loads(capsys.readouterr().out)
    assert document["schema_version"] == 1


def test_diff_of_a_missing_directory_is_a_usage_error(capsys, tmp_path: Path) -> None:
    write(tmp_path / "old", report("node1"))
    assert main(["diff", str(tmp_path / "old"), str(tmp_path / "absent")]) == 3
    assert "absent: is not a directory" in capsys.readouterr().err
