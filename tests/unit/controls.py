# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Controls for tests, shaped as AnsibleModule hands them to the modules."""

from __future__ import annotations


def full_control(cid, *, enabled=True, reason=None, **domain):
    """A control with every common option present, plus the module's own fields."""
    return {
        "id": cid,
        "title": f"title of {cid}",
        "benchmarks": [],
        "level": None,
        "profile": None,
        "enabled": enabled,
        "reason": reason,
        **domain,
    }
