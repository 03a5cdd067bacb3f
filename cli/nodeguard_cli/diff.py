# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What changed between two runs over a fleet, per node and control.

A control present in both runs falls in the first of these that applies:

- ``new_drift``: drift now, and neither drift nor error before;
- ``fixed``: drift or error before, pass or fixed now;
- ``new_error``: error now, not before;
- ``changed``: any other change of status (pass to skipped, error to drift, ...).

A control in one run only is ``added`` or ``removed``. A node with a report in one run only is
listed with the reason the other run gave for it (unreachable) or as having no report there.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from nodeguard_cli.reports.load import load_reports, load_unreachable, select_mode

KINDS = ("new_drift", "fixed", "new_error", "changed", "added", "removed")
_KIND_TITLES = {
    "new_drift": "new drift",
    "fixed": "fixed",
    "new_error": "new errors",
    "changed": "other status changes",
    "added": "controls added",
    "removed": "controls removed",
}
_BAD = ("drift", "error")
_GOOD = ("pass", "fixed")


def classify(old: str | None, new: str | None) -> str | None:
    """The kind of change from status ``old`` to ``new`` (None: absent), or None if unchanged."""
    if old is None and new is None:
        return None
    if old is None:
        return "added"
    if new is None:
        return "removed"
    if old == new:
        return None
    if new == "drift" and old not in _BAD:
        return "new_drift"
    if old in _BAD and new in _GOOD:
        return "fixed"
    if new == "error":
        return "new_error"
    return "changed"


@dataclass
class NodeDiff:
    host: str
    # "both": a report in each run; otherwise the run that has none says why.
    presence: str = "both"
    old_missing: str | None = None
    new_missing: str | None = None
    changes: list[dict[str, t.Any]] = field(default_factory=list)

    def by_kind(self, kind: str) -> list[dict[str, t.Any]]:
        return [change for change in self.changes if change["kind"] == kind]


@dataclass
class FleetDiff:
    old_dir: str
    new_dir: str
    old_mode: str
    new_mode: str
    nodes: list[NodeDiff]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for node in self.nodes:
            for change in node.changes:
                counts[change["kind"]] += 1
        counts["nodes_without_new_report"] = sum(1 for node in self.nodes if node.new_missing is not None)
        return counts

    def to_dict(self) -> dict[str, t.Any]:
        return {
            "schema_version": 1,
            "old": {"dir": self.old_dir, "mode": self.old_mode},
            "new": {"dir": self.new_dir, "mode": self.new_mode},
            "counts": self.counts(),
            "nodes": [
                {
                    "host": node.host,
                    "old_missing": node.old_missing,
                    "new_missing": node.new_missing,
                    "changes": node.changes,
                }
                for node in self.nodes
            ],
        }


def _controls(report) -> dict[str, dict[str, t.Any]]:
    return {control["id"]: control for control in report.controls} if report else {}


def diff(old_dir: Path | str, new_dir: Path | str, mode: str | None = None) -> FleetDiff:
    """Compare the reports of two directories (one mode each; ``mode`` picks it when both are there)."""
    old_mode, old = select_mode(load_reports(old_dir), mode, old_dir)
    new_mode, new = select_mode(load_reports(new_dir), mode, new_dir)
    old_away = {entry["host"]: entry["reason"] for entry in load_unreachable(old_dir)}
    new_away = {entry["host"]: entry["reason"] for entry in load_unreachable(new_dir)}
    nodes = []
    # Every node of the new run, reported or not, and every node the old run reported.
    for host in sorted(set(old) | set(new) | set(new_away)):
        node = NodeDiff(host)
        if host not in old:
            node.old_missing = f"unreachable: {old_away[host]}" if host in old_away else "no report"
        if host not in new:
            node.new_missing = f"unreachable: {new_away[host]}" if host in new_away else "no report"
        if host in old and host in new:
            before, after = _controls(old[host]), _controls(new[host])
            for cid in sorted(set(before) | set(after)):
                was = before[cid]["status"] if cid in before else None
                now = after[cid]["status"] if cid in after else None
                kind = classify(was, now)
                if kind:
                    reason = (after.get(cid) or before[cid])["reason"]
                    node.changes.append({"id": cid, "kind": kind, "old": was, "new": now, "reason": reason})
        nodes.append(node)
    return FleetDiff(str(old_dir), str(new_dir), old_mode, new_mode, nodes)


def render_text(result: FleetDiff) -> str:
    """The differences for a terminal: per node, changes grouped by kind, then the counts."""
    lines = [f"{result.old_dir} ({result.old_mode}) -> {result.new_dir} ({result.new_mode})"]
    for node in result.nodes:
        if node.old_missing and node.new_missing:
            lines.append(f"{node.host}: no report in either run (old: {node.old_missing}; new: {node.new_missing})")
            continue
        if node.new_missing:
            lines.append(f"{node.host}: no report in the new run ({node.new_missing})")
            continue
        if node.old_missing:
            lines.append(f"{node.host}: no report in the old run ({node.old_missing}); nothing to compare")
            continue
        if not node.changes:
            lines.append(f"{node.host}: no change")
            continue
        lines.append(node.host)
        width = max(len(change["id"]) for change in node.changes)
        for kind in KINDS:
            changes = node.by_kind(kind)
            if not changes:
                continue
            lines.append(f"  {_KIND_TITLES[kind]} ({len(changes)})")
            for change in changes:
                arrow = f"{change['old'] or '-':>7} -> {change['new'] or '-':<7}"
                lines.append(f"    {change['id']:<{width}}  {arrow}  {change['reason'] or ''}".rstrip())
    counts = result.counts()
    lines.append(
        ", ".join(f"{_KIND_TITLES[kind]} {counts[kind]}" for kind in KINDS)
        + f", nodes without a new report {counts['nodes_without_new_report']}"
    )
    return "\n".join(lines)


def exit_code(result: FleetDiff) -> int:
    """0 nothing got worse, 1 new drift, 2 new errors or a node without a new report."""
    counts = result.counts()
    if counts["new_error"] or counts["nodes_without_new_report"]:
        return 2
    if counts["new_drift"]:
        return 1
    return 0
