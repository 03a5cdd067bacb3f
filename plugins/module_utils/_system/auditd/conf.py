# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""auditd.conf: the keys this family sets and the values they take, reading and editing the
file (only the lines of those keys change, missing keys are added at the end), and the action
that writes it and has auditd re-read it.
"""

from __future__ import annotations

import os
import re

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.live import _running, _status
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules_d import RULES_MODE
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import write_action

CONF = "/etc/audit/auditd.conf"

# auditd.conf keys this family sets, with the values auditd.conf(5) allows.
_FULL = ("ignore", "syslog", "rotate", "email", "exec", "suspend", "single", "halt")
ACTION_KEYS = {
    "max_log_file_action": ("ignore", "syslog", "suspend", "rotate", "keep_logs"),
    "space_left_action": _FULL,
    "admin_space_left_action": _FULL,
    "disk_full_action": ("ignore", "syslog", "rotate", "exec", "suspend", "single", "halt"),
    "disk_error_action": ("ignore", "syslog", "exec", "suspend", "single", "halt"),
}
NUMBER_KEYS = ("max_log_file", "num_logs")
SIZE_KEYS = ("space_left", "admin_space_left")
TEXT_KEYS = ("action_mail_acct",)
CONFIG_KEYS = (*ACTION_KEYS, *NUMBER_KEYS, *SIZE_KEYS, *TEXT_KEYS)


def _same(key: str, have: str, want: str) -> bool:
    if key in ACTION_KEYS:
        return " ".join(have.split()).lower() == want.lower()
    return have.strip() == want


_CONF_LINE = re.compile(r"^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$")


def parse_conf(text: str) -> dict[str, tuple[str, int]]:
    """auditd.conf keys with their value and line number (the last line of a key wins)."""
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = _CONF_LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            found[match.group(1).lower()] = (match.group(2), number)
    return found


def edit_conf(text: str, wanted: dict[str, str]) -> str:
    """C(text) with the lines of the C(wanted) keys set; every other byte kept, new keys at the end."""
    lines = text.splitlines(keepends=True)
    done = set()
    for index, line in enumerate(lines):
        match = _CONF_LINE.match(line)
        if not match or line.lstrip().startswith("#"):
            continue
        key = match.group(1).lower()
        if key in wanted:
            done.add(key)
            if not _same(key, match.group(2), wanted[key]):
                ending = line[len(line.rstrip("\r\n")) :]
                lines[index] = f"{key} = {wanted[key]}{ending or chr(10)}"
    missing = [key for key in wanted if key not in done]
    if missing:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines += [f"{key} = {wanted[key]}\n" for key in missing]
    return "".join(lines)


def _conf_action(node: Node, before: str, after: str) -> Action:
    """Write auditd.conf and have auditd re-read it (SIGHUP from this process, so the audit trail
    names who asked); on failure and on undo the old file is put back and re-read."""
    info = os.stat(node.path(CONF))
    write = write_action(node, CONF, after, info.st_mode & RULES_MODE)
    running = _running(_status(node))
    signal = [node.binary("auditctl") or "auditctl", "--signal", "HUP"]

    def run() -> None:
        write.run()
        if running:
            try:
                node.run(signal)
            except CommandError:
                write.undo()
                raise

    def undo() -> None:
        write.undo()
        if running:
            node.run(signal, check=False)

    what = f"write {CONF}" + (" and have auditd re-read it (auditctl --signal HUP)" if running else "")
    return Action("auditd:conf", what, run, undo, write.diff)
