# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters that turn a control catalog and a user's choices into module input, and results into a report."""

from __future__ import annotations

import datetime
import re
import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import (
    CONTROL_ID_RE,
    RESULT_SCHEMA_VERSION,
    STATUSES,
    disabled_result,
    summarise,
)

# Catalog fields that only the filter reads; modules never see them.
_CATALOG_ONLY = ("default", "default_reason")
_REQUIRED = ("id", "title")


def resolve_controls(
    catalog: list[dict],
    disabled: dict[str, str] | None = None,
    enabled: list[str] | None = None,
    field: str | None = None,
    overrides: dict[str, t.Any] | None = None,
) -> list[dict]:
    """Decide which catalog controls are on, with the reason for each that is off.

    C(disabled) maps control ids to the user's reason for switching them off; C(enabled) lists
    ids the user switches on although they are off by default. Ids of other roles' controls may
    appear in both (one setting serves every role), so an unknown id is not an error here.
    C(overrides) replaces values inside each control's C(field) mapping, by key.
    """
    name = "resolve_controls"
    disabled = disabled or {}
    enabled = enabled or []
    overrides = overrides or {}
    if not isinstance(catalog, list):
        raise AnsibleFilterError(f"{name}: the catalog must be a list of controls, got {type(catalog).__name__}")
    if not isinstance(disabled, dict):
        raise AnsibleFilterError(f"{name}: 'disabled' must map control ids to reasons")
    if not isinstance(enabled, list):
        raise AnsibleFilterError(f"{name}: 'enabled' must be a list of control ids")
    for cid, reason in disabled.items():
        if not isinstance(reason, str) or not reason.strip():
            raise AnsibleFilterError(f"{name}: control {cid!r} is switched off without a reason; give one")
    clash = sorted(set(disabled) & set(enabled))
    if clash:
        raise AnsibleFilterError(f"{name}: {', '.join(clash)} both switched on and off; choose one")
    if overrides and not field:
        raise AnsibleFilterError(f"{name}: 'overrides' needs 'field', the mapping they apply to")

    used_overrides: set[str] = set()
    out = []
    for entry in catalog:
        if not isinstance(entry, dict) or any(k not in entry for k in _REQUIRED):
            raise AnsibleFilterError(f"{name}: every catalog entry needs {', '.join(_REQUIRED)}: {entry!r}")
        cid = entry["id"]
        if not CONTROL_ID_RE.match(str(cid)):
            raise AnsibleFilterError(f"{name}: catalog id {cid!r} is not lower-case dotted words")
        control = {k: v for k, v in entry.items() if k not in _CATALOG_ONLY}
        if cid in disabled:
            control["enabled"], control["reason"] = False, disabled[cid].strip()
        elif cid in enabled or entry.get("default", True):
            control["enabled"], control["reason"] = True, None
        else:
            why = entry.get("default_reason") or "no reason given in the catalog"
            control["enabled"], control["reason"] = False, f"off by default on Kubernetes nodes: {why}"
        if field and overrides and isinstance(control.get(field), dict):
            values = dict(control[field])
            for key in values:
                if key in overrides:
                    values[key] = overrides[key]
                    used_overrides.add(key)
            control[field] = values
        out.append(control)
    unknown = sorted(set(overrides) - used_overrides)
    if unknown:
        raise AnsibleFilterError(
            f"{name}: no control sets {', '.join(unknown)}; overrides change catalog values only "
            "(add new keys through the role's 'extra' variable)"
        )
    return out


_RESULT_KEYS = ("id", "title", "status")


def control_report(
    results: list[dict],
    host: str,
    mode: str,
    disabled: dict[str, str] | None = None,
    collection_version: str | None = None,
    now: str | None = None,
) -> dict[str, t.Any]:
    """One node's report: every control result, counts per status, and ids that matched nothing."""
    name = "control_report"
    if mode not in ("audit", "harden"):
        raise AnsibleFilterError(f"{name}: mode must be 'audit' or 'harden', got {mode!r}")
    if not isinstance(results, list):
        raise AnsibleFilterError(f"{name}: results must be a list of control results")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict) or any(k not in result for k in _RESULT_KEYS):
            raise AnsibleFilterError(f"{name}: not a control result: {result!r}")
        if result["status"] not in STATUSES:
            raise AnsibleFilterError(f"{name}: control {result['id']!r} has unknown status {result['status']!r}")
        if result["id"] in seen:
            raise AnsibleFilterError(f"{name}: control {result['id']!r} was reported twice")
        seen.add(result["id"])
    stamp = now or datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "host": host,
        "mode": mode,
        "generated_at": stamp,
        "collection_version": collection_version,
        "summary": summarise(results),
        "unknown_disabled_ids": sorted(set(disabled or {}) - seen),
        "controls": sorted(results, key=lambda r: _natural(r["id"])),
    }


def _natural(text: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def skipped_results(controls: list[dict]) -> list[dict]:
    """Results for controls a role did not check at all: every one switched off, with its reason."""
    name = "skipped_results"
    if not isinstance(controls, list) or not all(isinstance(c, dict) and "id" in c and "title" in c for c in controls):
        raise AnsibleFilterError(f"{name}: give the controls resolve_controls returned")
    on = [c["id"] for c in controls if c.get("enabled", True)]
    if on:
        raise AnsibleFilterError(f"{name}: {', '.join(on)} switched on; only switched-off controls go unchecked")
    return [disabled_result(c) for c in controls]


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {
            "resolve_controls": resolve_controls,
            "control_report": control_report,
            "skipped_results": skipped_results,
        }
