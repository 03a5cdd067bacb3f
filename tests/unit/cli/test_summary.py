# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet summary: counts per node and for the fleet, nodes without a report, the exit code."""

from __future__ import annotations

from pathlib import Path

import pytest
from nodeguard_cli.reports.load import load_reports, select_mode
from nodeguard_cli.reports.summary import exit_code, fleet_summary, render_text


def _summary(folder: Path, unreachable=None) -> dict:
    mode, reports = select_mode(load_reports(folder), None, folder)
    return fleet_summary(mode, reports, unreachable, generated_at="2026-12-07T00:00:00+00:00")


def test_counts_per_node_and_totals(fleet_dir: Path) -> None:
    summary = _summary(fleet_dir, [{"host": "node3", "reason": "ssh: connection timed out"}])
    assert summary["schema_version"] == 1
    assert summary["mode"] == "audit"
    assert [node["host"] for node in summary["nodes"]] == ["node1", "node2", "node3"]
    assert summary["nodes"][0]["counts"] == {"pass": 1, "fixed": 0, "drift": 1, "skipped": 0, "error": 0}
    assert summary["nodes"][1]["counts"] == {"pass": 0, "fixed": 1, "drift": 0, "skipped": 1, "error": 1}
    assert summary["nodes"][2] == {"host": "node3", "reachable": False, "reason": "ssh: connection timed out"}
    assert summary["unreachable"] == [{"host": "node3", "reason": "ssh: connection timed out"}]
    assert summary["totals"] == {
        "nodes": 3, "reported": 2, "unreachable": 1, "pass": 1, "fixed": 1, "drift": 1, "skipped": 1, "error": 1,
    }  # fmt: skip


def test_a_report_wins_over_an_unreachable_entry(fleet_dir: Path) -> None:
    summary = _summary(fleet_dir, [{"host": "node1", "reason": "stale"}])
    assert summary["unreachable"] == []
    assert summary["totals"]["unreachable"] == 0
    assert summary["nodes"][0]["reachable"] is True


@pytest.mark.parametrize(
    ("totals", "fail_on", "code"),
    [
        ({}, "drift", 0),
        ({"drift": 2}, "drift", 1),
        ({"drift": 2}, "error", 0),
        ({"drift": 2, "error": 1}, "drift", 2),
        ({"error": 1}, "error", 2),
        ({"unreachable": 1}, "drift", 2),
        ({"unreachable": 1}, "error", 2),
        ({"unreachable": 1, "error": 3, "drift": 1}, "never", 0),
        ({"skipped": 5, "fixed": 3}, "drift", 0),
    ],
)
def test_exit_code(totals: dict, fail_on: str, code: int) -> None:
    base = {"nodes": 1, "reported": 1, "unreachable": 0, "pass": 1, "fixed": 0, "drift": 0, "skipped": 0, "error": 0}
    assert exit_code({"totals": {**base, **totals}}, fail_on) == code


def test_exit_code_refuses_an_unknown_choice() -> None:
    with pytest.raises(ValueError, match="fail_on must be one of"):
        exit_code({"totals": {}}, "always")


def test_text_names_every_node(fleet_dir: Path) -> None:
    text = render_text(_summary(fleet_dir, [{"host": "node3", "reason": "refused"}]))
    assert text.splitlines() == [
        "node    pass  fixed  drift  skipped  error",
        "node1      1      0      1        0      0",
        "node2      0      1      0        1      1",
        "node3  no report: refused",
        "fleet      1      1      1        1      1",
        "audit: 3 nodes, 2 reported, 1 without a report",
    ]
