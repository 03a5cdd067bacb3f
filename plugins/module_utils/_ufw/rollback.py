# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node's own way back from a ufw change the controller cannot confirm.

The mechanism is the collection's rollback (module_utils/_rollback.py): before ufw's rules,
defaults or switch change, the files about to change are saved under
/var/lib/nodeguard-hardening/ufw-rollback/ with a restore script, and a transient systemd timer
runs it unless the change is confirmed. What is particular to ufw is what the script runs after
the files are back (C(tail)): ufw reads them again, or is switched off when it was off before.
"""

from __future__ import annotations

import shlex

from ansible_collections.nodeguard.hardening.plugins.module_utils._rollback import Kind

STATE_DIR = "/var/lib/nodeguard-hardening/ufw-rollback"
UNIT = "nodeguard-ufw-rollback"
KIND = Kind(
    name="ufw",
    state_dir=STATE_DIR,
    unit=UNIT,
    description="nodeguard.hardening: put the previous ufw rules and defaults back unless confirmed",
)
UFW = "/usr/sbin/ufw"


def tail(was_enabled: bool, ufw: str = UFW) -> list[str]:
    """The restore script's lines after the files are back. ufw enabled before the change reloads
    the restored rules and defaults (C(ufw reload) reads every file anew); ufw that was off before
    is switched off again, which drops the rules the change loaded (C(--force): no question can wait
    for a terminal the script does not have)."""
    if was_enabled:
        return [f"{shlex.quote(ufw)} reload"]
    return [f"{shlex.quote(ufw)} --force disable"]
