# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reports built and written as the collection's report role writes them."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

STATUSES = ("pass", "fixed", "drift", "skipped", "error")


def control(cid: str, status: str = "pass", **fields: t.Any) -> dict[str, t.Any]:
    """One control result with every key a report holds; ``fields`` replace the defaults."""
    result: dict[str, t.Any] = {
        "id": cid,
        "title": f"Title of {cid}",
        "benchmarks": [{"benchmark": "CIS Debian Linux 12 v1.1.0", "section": "5.2.1"}],
        "level": 1,
        "profile": "Level 1 - Server",
        "status": status,
        "reason": None if status == "pass" else f"{cid} is {status}",
        "expected": "1",
        "actual": "1" if status == "pass" else "0",
        "differences": []
        if status in ("pass", "skipped")
        else [{"item": cid, "where": "live", "expected": "1", "actual": "0"}],
        "details": {},
    }
    result.update(fields)
    return result


def report(host: str, mode: str = "audit", controls: list[dict] | None = None, **fields: t.Any) -> dict[str, t.Any]:
    controls = controls if controls is not None else [control("cis.a.one"), control("cis.a.two", "drift")]
    document: dict[str, t.Any] = {
        "schema_version": 1,
        "host": host,
        "mode": mode,
        "generated_at": "2026-12-06T22:44:56+00:00",
        "collection_version": "0.1.0",
        "summary": {status: sum(1 for c in controls if c["status"] == status) for status in STATUSES},
        "unknown_disabled_ids": [],
        "controls": controls,
    }
    document.update(fields)
    return document


def write(directory: Path, document: dict[str, t.Any], name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name or f"{document['host']}-{document['mode']}.json")
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def write_unreachable(directory: Path, entries: list[dict[str, str]], **fields: t.Any) -> Path:
    """An earlier run's fleet-summary.json naming the nodes it has no report of, as `nodeguard` writes it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fleet-summary.json"
    path.write_text(json.dumps({"schema_version": 1, **fields, "unreachable": entries}), encoding="utf-8")
    return path
