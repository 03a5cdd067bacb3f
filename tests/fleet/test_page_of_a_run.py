# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet page of a real run in a real browser: the reports a lab's `nodeguard audit` wrote.

    NODEGUARD_FLEET_REPORTS=nodeguard-reports NODEGUARD_SCREENSHOT=fleet.png pytest tests/fleet -q -rP

NODEGUARD_FLEET_REPORTS names the run's directory (fleet-report.html, fleet-summary.json and the
NODE-audit.json or NODE-harden.json reports); NODEGUARD_SCREENSHOT, if set, where to write a PNG of the
page with a drift control's details open. Chromium and chromedriver come from `make deps`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .fleet_page import browser_or_fail, check_fleet_page

REPORTS_VARIABLE = "NODEGUARD_FLEET_REPORTS"
SCREENSHOT_VARIABLE = "NODEGUARD_SCREENSHOT"


def test_the_fleet_page_shows_the_run_s_reports() -> None:
    folder = os.environ.get(REPORTS_VARIABLE)
    if not folder:
        pytest.fail(
            f"set {REPORTS_VARIABLE} to the directory of a run's reports "
            "(fleet-report.html, fleet-summary.json, NODE-audit.json or NODE-harden.json)",
            pytrace=False,
        )
    screenshot = os.environ.get(SCREENSHOT_VARIABLE) or None
    with browser_or_fail() as driver:
        checked = check_fleet_page(Path(folder), driver, screenshot=screenshot, details=8)
    assert checked["controls"] and checked["details"], checked
    if screenshot:
        assert Path(screenshot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{screenshot} is not a PNG"
    print(
        f"{folder}: {checked['nodes']} nodes, {checked['controls']} controls, {len(checked['filters'])} filter "
        f"states and the details of {', '.join(checked['details'])}: as the reports say"
    )
