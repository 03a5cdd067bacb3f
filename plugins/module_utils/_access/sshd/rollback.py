# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node's own way back from an sshd change the controller cannot confirm.

The mechanism is the collection's rollback (module_utils/_rollback.py): before sshd is reloaded
with a new configuration, the files about to change are saved under
/var/lib/nodeguard-hardening/sshd-rollback/ with a restore script, and a transient systemd timer
runs it unless the change is confirmed. What is particular to sshd is the line the script runs
after the files are back: ssh.service reloads them where it runs.
"""

from __future__ import annotations

import shlex

from ansible_collections.nodeguard.hardening.plugins.module_utils import _rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._rollback import (
    DEFAULT_TIMEOUT,
    MANIFEST,
    MAX_TIMEOUT,
    MIN_TIMEOUT,
    ROLLED_BACK,
    SCRIPT,
    SUFFIX,
    Kind,
    RollbackState,
    check_timeout,
    unit_active,
    write_private,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import systemctl

# The names this module had before the mechanism moved, so that its importers work unchanged.
__all__ = [
    "DEFAULT_TIMEOUT",
    "KIND",
    "MANIFEST",
    "MAX_TIMEOUT",
    "MIN_TIMEOUT",
    "ROLLED_BACK",
    "SCRIPT",
    "SERVICE",
    "SERVICE_UNIT",
    "SOCKET_UNIT",
    "STATE_DIR",
    "SUFFIX",
    "TIMER",
    "UNIT",
    "RollbackState",
    "arm",
    "check_timeout",
    "confirm",
    "disarm",
    "predict",
    "read_manifest",
    "reload_command",
    "script",
    "state",
    "unit_active",
    "write_private",
]

STATE_DIR = "/var/lib/nodeguard-hardening/sshd-rollback"
UNIT = "nodeguard-sshd-rollback"
KIND = Kind(
    name="sshd",
    state_dir=STATE_DIR,
    unit=UNIT,
    description="nodeguard.hardening: put the previous sshd configuration back unless confirmed",
)
TIMER = KIND.timer
SERVICE = KIND.service
SERVICE_UNIT = "ssh.service"
SOCKET_UNIT = "ssh.socket"


def read_manifest(node: Node) -> list[tuple[str, str | None]]:
    """(file, saved copy or None for a file that was absent) of the saved state."""
    return _rollback.read_manifest(node, KIND)


def state(node: Node) -> RollbackState:
    """Whether an sshd change awaits confirmation, or was rolled back by the node (for the audit)."""
    return _rollback.state(node, KIND)


def reload_command(node: Node, service_running: bool) -> str:
    """ssh.service reads the restored files; started again if the failed change stopped it. With
    only ssh.socket running there is nothing to reload."""
    if not service_running:
        return f"# {SERVICE_UNIT} did not run when the change was made: nothing to reload"
    return f"{shlex.quote(systemctl(node))} reload-or-restart {SERVICE_UNIT}"


def script(node: Node, previous: dict[str, str | None], service_running: bool = True) -> str:
    """The restore script: each file back through a copy beside it and a rename, then a reload."""
    return _rollback.script(node, KIND, previous, [reload_command(node, service_running)])


def arm(
    node: Node, previous: dict[str, str | None], timeout: int = DEFAULT_TIMEOUT, service_running: bool = True
) -> list[str]:
    """Save the files about to change (C(previous): path -> content now, None when absent) and arm
    the timer. Refuses while an earlier change awaits confirmation. Returns the systemd-run argv."""
    return _rollback.arm(node, KIND, previous, timeout, [reload_command(node, service_running)])


def disarm(node: Node) -> None:
    """Stop the timer and drop the saved state (after an in-process undo, or a confirmation)."""
    _rollback.disarm(node, KIND)


def confirm(node: Node) -> dict:
    """The controller got back in over a new connection: stop the timer, drop the saved state
    (see C(_rollback.confirm) for what it returns)."""
    return _rollback.confirm(node, KIND)


def predict(node: Node) -> dict:
    """What C(confirm) would do, read without changing anything (check mode)."""
    return _rollback.predict(node, KIND)
