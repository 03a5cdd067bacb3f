# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read a directory of per-node reports (schema version 1) as the collection's report role writes them.

Each node has at most one file per mode, ``NODE-audit.json`` and ``NODE-harden.json``. A file that
is not such a report is refused with a message naming the file and what is wrong with it; other
files in the directory (the fleet outputs among them) are not read.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass
from pathlib import Path

SCHEMA_VERSION = 1
MODES = ("audit", "harden")
STATUSES = ("pass", "fixed", "drift", "skipped", "error")
# Written by `nodeguard` itself next to the reports: the nodes a run could not report on.
FLEET_SUMMARY_NAME = "fleet-summary.json"

_REPORT_KEYS: dict[str, tuple[type, ...]] = {
    "schema_version": (int,),
    "host": (str,),
    "mode": (str,),
    "generated_at": (str,),
    "collection_version": (str, type(None)),
    "summary": (dict,),
    "unknown_disabled_ids": (list,),
    "controls": (list,),
}
_CONTROL_KEYS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "title": (str,),
    "benchmarks": (list,),
    "level": (int, type(None)),
    "profile": (str, type(None)),
    "status": (str,),
    "reason": (str, type(None)),
    "differences": (list,),
}
# Present in every report, of any JSON type.
_CONTROL_FREE_KEYS = ("expected", "actual", "details")
_DIFFERENCE_KEYS = ("item", "where", "expected", "actual")


class ReportError(ValueError):
    """A report file that cannot be used; the message names the file and the fault."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


@dataclass(frozen=True)
class Report:
    """One node's report for one mode, as read from ``path``."""

    host: str
    mode: str
    path: Path
    document: dict[str, t.Any]

    @property
    def controls(self) -> list[dict[str, t.Any]]:
        return self.document["controls"]

    @property
    def generated_at(self) -> str:
        return self.document["generated_at"]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for control in self.controls:
            counts[control["status"]] += 1
        return counts


def split_name(name: str) -> tuple[str, str] | None:
    """``node1-audit.json`` -> ``("node1", "audit")``; None for a name that is not a report's."""
    if not name.endswith(".json"):
        return None
    host, sep, mode = name[: -len(".json")].rpartition("-")
    if not sep or not host or mode not in MODES:
        return None
    return host, mode


def _type_names(types: tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", dict: "an object", list: "a list", type(None): "null"}
    return " or ".join(names[kind] for kind in types)


def _check_types(path: Path, where: str, data: dict, spec: dict[str, tuple[type, ...]]) -> None:
    for key, types in spec.items():
        if key not in data:
            raise ReportError(path, f"{where}has no {key!r}")
        value = data[key]
        # JSON true/false are bool, a subclass of int: never a count or a level.
        if isinstance(value, bool) or not isinstance(value, types):
            raise ReportError(path, f"{where}{key!r} must be {_type_names(types)}, got {json.dumps(value)[:80]}")


def _check_control(path: Path, index: int, control: t.Any) -> str:
    if not isinstance(control, dict):
        raise ReportError(path, f"controls[{index}] is not an object")
    where = f"controls[{index}] ({control['id']}) " if isinstance(control.get("id"), str) else f"controls[{index}] "
    _check_types(path, where, control, _CONTROL_KEYS)
    for key in _CONTROL_FREE_KEYS:
        if key not in control:
            raise ReportError(path, f"{where}has no {key!r}")
    if control["status"] not in STATUSES:
        raise ReportError(path, f"{where}has status {control['status']!r}, not one of {', '.join(STATUSES)}")
    for ref in control["benchmarks"]:
        if not isinstance(ref, dict) or not isinstance(ref.get("benchmark"), str) or "section" not in ref:
            raise ReportError(path, f"{where}has a benchmark reference without 'benchmark' and 'section': {ref!r}")
    for difference in control["differences"]:
        if not isinstance(difference, dict) or any(key not in difference for key in _DIFFERENCE_KEYS):
            raise ReportError(path, f"{where}has a difference without {', '.join(_DIFFERENCE_KEYS)}: {difference!r}")
    return control["id"]


def load_report(path: Path | str) -> Report:
    """Read and check one report file; raise ReportError naming the file and the fault."""
    path = Path(path)
    parts = split_name(path.name)
    if parts is None:
        raise ReportError(path, "not a report's name; reports are named NODE-audit.json or NODE-harden.json")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(path, f"cannot be read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ReportError(path, f"is not UTF-8 text: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(path, f"is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(document, dict):
        raise ReportError(path, f"holds a JSON {type(document).__name__}, not a report object")
    version = document.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ReportError(path, f"has schema_version {json.dumps(version)}; this nodeguard reads {SCHEMA_VERSION} only")
    _check_types(path, "", document, _REPORT_KEYS)
    host, mode = parts
    if document["host"] != host:
        raise ReportError(path, f"is named for node {host!r} but reports on {document['host']!r}")
    if document["mode"] != mode:
        raise ReportError(path, f"is named for mode {mode!r} but holds a {document['mode']!r} report")
    seen: set[str] = set()
    for index, control in enumerate(document["controls"]):
        cid = _check_control(path, index, control)
        if cid in seen:
            raise ReportError(path, f"reports control {cid!r} twice")
        seen.add(cid)
    report = Report(host=host, mode=mode, path=path, document=document)
    summary = {status: document["summary"].get(status) for status in STATUSES}
    if summary != report.counts():
        raise ReportError(path, f"summary {summary} does not match its controls {report.counts()}")
    return report


def load_reports(directory: Path | str) -> list[Report]:
    """Every report in ``directory``, sorted by node and mode; ReportError if one is unusable."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ReportError(directory, "is not a directory")
    reports = [load_report(path) for path in sorted(directory.iterdir()) if split_name(path.name) and path.is_file()]
    return sorted(reports, key=lambda report: (report.host, report.mode))


def select_mode(reports: list[Report], mode: str | None, directory: Path | str) -> tuple[str, dict[str, Report]]:
    """The reports of one mode, by node. Without ``mode`` the directory must hold only one."""
    present = sorted({report.mode for report in reports})
    if mode is None:
        if not present:
            raise ReportError(directory, "holds no report (NODE-audit.json or NODE-harden.json)")
        if len(present) > 1:
            raise ReportError(directory, "holds both audit and harden reports; choose one with --mode")
        mode = present[0]
    chosen = {report.host: report for report in reports if report.mode == mode}
    if not chosen:
        raise ReportError(directory, f"holds no {mode} report")
    return mode, chosen


def load_unreachable(directory: Path | str) -> list[dict[str, str]]:
    """Nodes an earlier run could not report on, from its fleet summary in ``directory`` (if any)."""
    path = Path(directory) / FLEET_SUMMARY_NAME
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(path, f"cannot be read as JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        raise ReportError(path, f"is not a fleet summary of schema_version {SCHEMA_VERSION}")
    nodes = document.get("unreachable", [])
    if not isinstance(nodes, list) or not all(
        isinstance(node, dict) and isinstance(node.get("host"), str) and isinstance(node.get("reason"), str)
        for node in nodes
    ):
        raise ReportError(path, "'unreachable' must be a list of {host, reason}")
    return [{"host": node["host"], "reason": node["reason"]} for node in nodes]
