# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet summary: counts per status for each node, the nodes without a report, fleet totals.

Written as ``fleet-summary.json`` (its own schema_version 1)::

    {"schema_version": 1, "mode": "audit", "generated_at": "...",
     "nodes": [{"host": "node1", "reachable": true, "generated_at": "...", "collection_version": "0.1.0",
                "counts": {"pass": 3, "fixed": 0, "drift": 1, "skipped": 2, "error": 0},
                "unknown_disabled_ids": []},
               {"host": "node2", "reachable": false, "reason": "ssh: connection refused"}],
     "unreachable": [{"host": "node2", "reason": "ssh: connection refused"}],
     "totals": {"nodes": 2, "reported": 1, "unreachable": 1,
                "pass": 3, "fixed": 0, "drift": 1, "skipped": 2, "error": 0}}
"""

from __future__ import annotations

import datetime
import typing as t

from nodeguard_cli.reports.load import STATUSES, Report

SUMMARY_SCHEMA_VERSION = 1
FAIL_ON = ("drift", "error", "never")

# Exit codes, shared by every command.
EXIT_OK = 0
EXIT_DRIFT = 1
EXIT_ERROR = 2
EXIT_USAGE = 3


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def fleet_summary(
    mode: str,
    reports: dict[str, Report],
    unreachable: list[dict[str, str]] | None = None,
    generated_at: str | None = None,
) -> dict[str, t.Any]:
    """Summarise one mode's reports by node; ``unreachable`` lists nodes that have none, with why.

    A node both reported and listed as unreachable is a report from this run: the report wins.
    """
    missing = {entry["host"]: entry["reason"] for entry in unreachable or [] if entry["host"] not in reports}
    nodes: list[dict[str, t.Any]] = []
    totals: dict[str, int] = {"nodes": 0, "reported": 0, "unreachable": 0, **dict.fromkeys(STATUSES, 0)}
    for host in sorted(set(reports) | set(missing)):
        totals["nodes"] += 1
        if host in missing:
            totals["unreachable"] += 1
            nodes.append({"host": host, "reachable": False, "reason": missing[host]})
            continue
        report = reports[host]
        counts = report.counts()
        totals["reported"] += 1
        for status, number in counts.items():
            totals[status] += number
        nodes.append(
            {
                "host": host,
                "reachable": True,
                "generated_at": report.generated_at,
                "collection_version": report.document["collection_version"],
                "counts": counts,
                "unknown_disabled_ids": list(report.document["unknown_disabled_ids"]),
            }
        )
    return {
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "mode": mode,
        "generated_at": generated_at or now(),
        "nodes": nodes,
        "unreachable": [{"host": host, "reason": missing[host]} for host in sorted(missing)],
        "totals": totals,
    }


def exit_code(summary: dict[str, t.Any], fail_on: str = "drift") -> int:
    """0 all pass, 1 drift found or left, 2 errors or unreachable nodes; ``fail_on`` says what fails.

    ``drift``: drift gives 1, errors and unreachable nodes 2. ``error``: only errors and unreachable
    nodes fail (2). ``never``: 0 whatever the reports hold.
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}")
    totals = summary["totals"]
    if fail_on == "never":
        return EXIT_OK
    if totals["error"] or totals["unreachable"]:
        return EXIT_ERROR
    if fail_on == "drift" and totals["drift"]:
        return EXIT_DRIFT
    return EXIT_OK


def render_text(summary: dict[str, t.Any]) -> str:
    """A table for a terminal: a row per node with its counts (or why it has none), then the fleet's."""
    width = max([len(node["host"]) for node in summary["nodes"]] + [len("fleet")])
    columns = [max(len(status), 5) for status in STATUSES]

    def row(name: str, values: t.Iterable[t.Any]) -> str:
        cells = "  ".join(f"{value!s:>{size}}" for value, size in zip(values, columns))
        return f"{name:<{width}}  {cells}".rstrip()

    lines = [row("node", STATUSES)]
    for node in summary["nodes"]:
        if node["reachable"]:
            lines.append(row(node["host"], (node["counts"][status] for status in STATUSES)))
        else:
            lines.append(f"{node['host']:<{width}}  no report: {node['reason']}")
    totals = summary["totals"]
    lines.append(row("fleet", (totals[status] for status in STATUSES)))
    lines.append(
        f"{summary['mode']}: {totals['nodes']} nodes, {totals['reported']} reported, "
        f"{totals['unreachable']} without a report"
    )
    return "\n".join(lines)
