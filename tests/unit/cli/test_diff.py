# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What changed between two runs: per control, per node, and the exit code of nodeguard diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from nodeguard_cli.diff import classify, diff, exit_code, render_text

from .builders import control, report, write, write_unreachable


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("pass", "drift", "new_drift"),
        ("skipped", "drift", "new_drift"),
        ("fixed", "drift", "new_drift"),
        ("drift", "pass", "fixed"),
        ("drift", "fixed", "fixed"),
        ("error", "pass", "fixed"),
        ("pass", "error", "new_error"),
        ("drift", "error", "new_error"),
        ("error", "drift", "changed"),
        ("pass", "skipped", "changed"),
        ("drift", "skipped", "changed"),
        ("pass", "fixed", "changed"),
        (None, "drift", "added"),
        ("pass", None, "removed"),
        ("drift", "drift", None),
        ("error", "error", None),
        (None, None, None),
    ],
)
def test_classify(old: str | None, new: str | None, kind: str | None) -> None:
    assert classify(old, new) == kind


def _runs(tmp_path: Path, old: dict[str, str], new: dict[str, str]) -> tuple[Path, Path]:
    """Two runs over node1, each given as control id -> status."""
    folders = []
    for name, statuses in (("old", old), ("new", new)):
        folder = tmp_path / name
        write(folder, report("node1", controls=[control(cid, status) for cid, status in statuses.items()]))
        folders.append(folder)
    return folders[0], folders[1]


@pytest.mark.parametrize(
    ("old", "new", "changes", "code"),
    [
        ({"c.a": "pass"}, {"c.a": "pass"}, [], 0),
        ({"c.a": "pass"}, {"c.a": "drift"}, [("c.a", "new_drift", "pass", "drift")], 1),
        ({"c.a": "drift"}, {"c.a": "pass"}, [("c.a", "fixed", "drift", "pass")], 0),
        ({"c.a": "pass"}, {"c.a": "error"}, [("c.a", "new_error", "pass", "error")], 2),
        ({"c.a": "pass"}, {"c.a": "pass", "c.b": "drift"}, [("c.b", "added", None, "drift")], 0),
        ({"c.a": "pass", "c.b": "pass"}, {"c.a": "pass"}, [("c.b", "removed", "pass", None)], 0),
        (
            {"c.a": "drift", "c.b": "pass", "c.c": "pass"},
            {"c.a": "pass", "c.b": "drift", "c.c": "skipped"},
            [
                ("c.a", "fixed", "drift", "pass"),
                ("c.b", "new_drift", "pass", "drift"),
                ("c.c", "changed", "pass", "skipped"),
            ],
            1,
        ),
    ],
)
def test_changes_per_control(tmp_path: Path, old, new, changes, code) -> None:
    result = diff(*_runs(tmp_path, old, new))
    assert [(c["id"], c["kind"], c["old"], c["new"]) for c in result.nodes[0].changes] == changes
    assert exit_code(result) == code


def test_the_reason_is_the_new_runs(tmp_path: Path) -> None:
    result = diff(*_runs(tmp_path, {"c.a": "pass"}, {"c.a": "drift"}))
    assert result.nodes[0].changes[0]["reason"] == "c.a is drift"


def test_an_unreachable_node_and_a_new_node(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for host in ("node1", "node2"):
        write(old, report(host))
    write(new, report("node1"))
    write(new, report("node4"))
    write_unreachable(new, [{"host": "node2", "reason": "ssh: connection refused"}])
    result = diff(old, new)
    by_host = {node.host: node for node in result.nodes}
    assert list(by_host) == ["node1", "node2", "node4"]
    assert by_host["node1"].changes == []
    assert by_host["node2"].new_missing == "unreachable: ssh: connection refused"
    assert by_host["node4"].old_missing == "no report"
    assert result.counts()["nodes_without_new_report"] == 1
    assert exit_code(result) == 2
    text = render_text(result).splitlines()
    assert "node2: no report in the new run (unreachable: ssh: connection refused)" in text
    assert "node4: no report in the old run (no report); nothing to compare" in text
    assert "node1: no change" in text


def test_a_node_unreachable_in_the_new_run_only_is_listed(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    write(old, report("node1"))
    write(new, report("node1"))
    write_unreachable(new, [{"host": "node9", "reason": "Connection refused"}])
    result = diff(old, new)
    by_host = {node.host: node for node in result.nodes}
    assert list(by_host) == ["node1", "node9"]
    assert (by_host["node9"].old_missing, by_host["node9"].new_missing) == (
        "no report",
        "unreachable: Connection refused",
    )
    assert result.counts()["nodes_without_new_report"] == 1
    assert exit_code(result) == 2
    assert (
        "node9: no report in either run (old: no report; new: unreachable: Connection refused)"
        in render_text(result).splitlines()
    )


def test_text_groups_by_kind(tmp_path: Path) -> None:
    result = diff(*_runs(tmp_path, {"c.a": "drift", "c.bb": "pass"}, {"c.a": "pass", "c.bb": "error"}))
    lines = render_text(result).splitlines()
    assert lines[1:6] == [
        "node1",
        "  fixed (1)",
        "    c.a     drift -> pass",
        "  new errors (1)",
        "    c.bb     pass -> error    c.bb is error",
    ]
    assert lines[-1].startswith("new drift 0, fixed 1, new errors 1, other status changes 0")


def test_to_dict_is_json(tmp_path: Path) -> None:
    result = diff(*_runs(tmp_path, {"c.a": "pass"}, {"c.a": "drift"}))
    document = json.loads(json.dumps(result.to_dict()))
    assert document["counts"]["new_drift"] == 1
    assert document["old"]["mode"] == document["new"]["mode"] == "audit"
    assert document["nodes"][0]["changes"][0]["kind"] == "new_drift"
