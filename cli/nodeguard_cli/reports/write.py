# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the fleet documents a run or ``nodeguard report`` asks for."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from nodeguard_cli.reports.html import render_html
from nodeguard_cli.reports.junit import render_junit
from nodeguard_cli.reports.load import FLEET_SUMMARY_NAME, Report

FORMATS = ("json", "junit", "html")
FILE_NAMES = {"json": FLEET_SUMMARY_NAME, "junit": "fleet-junit.xml", "html": "fleet-report.html"}


def parse_formats(text: str) -> list[str]:
    """``"json,html"`` -> ``["json", "html"]``; ValueError naming what is not a format."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FORMATS]
    if unknown or not chosen:
        raise ValueError(f"unknown format {', '.join(unknown) or repr(text)}; choose from {', '.join(FORMATS)}")
    return list(dict.fromkeys(chosen))


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a reader never sees half a document."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_outputs(
    output: Path,
    formats: list[str],
    summary: dict,
    reports: dict[str, Report],
) -> list[Path]:
    """Write each chosen document into ``output``; return their paths."""
    output.mkdir(parents=True, exist_ok=True)
    mode, unreachable, stamp = summary["mode"], summary["unreachable"], summary["generated_at"]
    written = []
    for kind in formats:
        path = output / FILE_NAMES[kind]
        if kind == "json":
            text = json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
        elif kind == "junit":
            text = render_junit(mode, reports, unreachable, stamp)
        else:
            text = render_html(mode, reports, unreachable, stamp)
        write_atomic(path, text)
        written.append(path)
    return written
