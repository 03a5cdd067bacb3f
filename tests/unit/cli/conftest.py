# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the fleet command line's tests.

The package is used from the checkout's cli/ when it is not installed (pip install ./cli).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from .builders import control, report, write

CLI_DIR = Path(__file__).resolve().parents[3] / "cli"

if importlib.util.find_spec("nodeguard_cli") is None:
    sys.path.insert(0, str(CLI_DIR))


@pytest.fixture
def fleet_dir(tmp_path: Path) -> Path:
    """Two audited nodes: node1 with a drift, node2 with an error, a skip and a fix."""
    folder = tmp_path / "reports"
    write(folder, report("node1"))
    write(
        folder,
        report(
            "node2",
            controls=[
                control("cis.a.one", "error"),
                control("cis.a.two", "skipped", reason="switched off: not here"),
                control(
                    "k8s.b.three",
                    "fixed",
                    benchmarks=[{"benchmark": "CIS Kubernetes Benchmark v1.12", "section": "4.2.1"}],
                ),
            ],
        ),
    )
    return folder
