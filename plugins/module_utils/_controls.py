# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control model shared by every module of the collection.

A control is one benchmark item (or one Kubernetes requirement) described as data.
Every module takes a list of controls, checks or applies each, and reports one
result per control with a status from STATUSES.
"""

from __future__ import annotations

import re
import typing as t

PASS = "pass"
FIXED = "fixed"
DRIFT = "drift"
SKIPPED = "skipped"
ERROR = "error"
STATUSES = (PASS, FIXED, DRIFT, SKIPPED, ERROR)

# Version of the result schema; reports carry it so readers can tell formats apart.
RESULT_SCHEMA_VERSION = 1

CONTROL_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")


class ControlInputError(ValueError):
    """Input that is wrong before anything was touched; the message says how to fix it."""


def control_argument_spec(domain_options: dict[str, dict]) -> dict[str, t.Any]:
    """Argument spec of the C(controls) option: common fields plus a module's own."""
    options: dict[str, dict] = {
        "id": {"type": "str", "required": True},
        "title": {"type": "str", "required": True},
        "benchmarks": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "benchmark": {"type": "str", "required": True},
                "section": {"type": "str", "required": True},
            },
        },
        "level": {"type": "int"},
        "profile": {"type": "str"},
        "enabled": {"type": "bool", "default": True},
        "reason": {"type": "str"},
    }
    options.update(domain_options)
    return {"type": "list", "elements": "dict", "required": True, "options": options}


def validate_controls(controls: list[dict]) -> None:
    """Checks that hold for every module: ids well formed and unique, reasons for disabled ones."""
    seen: set[str] = set()
    for control in controls:
        cid = control["id"]
        if not CONTROL_ID_RE.match(cid):
            raise ControlInputError(
                f"control id {cid!r} is not valid: use lower-case dotted words such as 'sysctl.ip_forward'"
            )
        if cid in seen:
            raise ControlInputError(f"control id {cid!r} is given twice; each control must appear once")
        seen.add(cid)
        if not control.get("enabled", True) and not (control.get("reason") or "").strip():
            raise ControlInputError(f"control {cid!r} is switched off without a reason; give one in 'reason'")


# Statuses whose result must say what differs (or what went wrong).
NEEDS_REASON = (FIXED, DRIFT, ERROR)


def difference(item: str, where: str, expected: t.Any, actual: t.Any) -> dict[str, t.Any]:
    """One thing that is not as the control wants it.

    C(item) names it (a key, a module, a path), C(where) says where it was found (C(live), a file
    with its line, C(mode), C(owner)), C(actual) is what is there (None: absent).
    """
    return {"item": item, "where": where, "expected": expected, "actual": actual}


def describe(differences: list[dict]) -> str:
    """The differences in words, for the result's reason."""
    parts = []
    for diff in differences:
        actual = "absent" if diff["actual"] is None else repr(diff["actual"])
        parts.append(f"{diff['item']} ({diff['where']}): {actual}, expected {diff['expected']!r}")
    return "; ".join(parts)


def make_result(
    control: dict,
    status: str,
    *,
    reason: str | None = None,
    expected: t.Any = None,
    actual: t.Any = None,
    details: dict | None = None,
    differences: list[dict] | None = None,
) -> dict[str, t.Any]:
    """One control's result, in the schema every module and report shares.

    A C(fixed), C(drift) or C(error) result always says what differs: its reason defaults to the
    differences in words, and one with neither is a bug in the module, refused here.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    differences = list(differences or [])
    if not reason and differences:
        reason = describe(differences)
    if status in NEEDS_REASON and not reason:
        raise ValueError(f"control {control['id']!r}: a {status} result must say what differs")
    return {
        "id": control["id"],
        "title": control["title"],
        "benchmarks": list(control.get("benchmarks") or []),
        "level": control.get("level"),
        "profile": control.get("profile"),
        "status": status,
        "reason": reason,
        "expected": expected,
        "actual": actual,
        "differences": differences,
        "details": details or {},
    }


def disabled_result(control: dict) -> dict[str, t.Any]:
    return make_result(control, SKIPPED, reason=f"switched off: {control.get('reason')}")


def summarise(results: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for result in results:
        counts[result["status"]] += 1
    return counts


def module_result(
    controls: list[dict], results: dict[str, dict], *, changed: bool, diff: list[dict], **extra: t.Any
) -> dict[str, t.Any]:
    """What every module returns: one result per control in the order given (switched-off ones
    reported as skipped with their reason), the counts per status, and the diff."""
    ordered = [results.get(control["id"]) or disabled_result(control) for control in controls]
    return {"changed": changed, **extra, "controls": ordered, "summary": summarise(ordered), "diff": diff}


def changed_status(check_mode: bool) -> str:
    """What a control that differs from its target is called: predicted or corrected."""
    return DRIFT if check_mode else FIXED
