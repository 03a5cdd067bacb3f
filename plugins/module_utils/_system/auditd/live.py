# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The live audit system: its status (C(auditctl -s)) and its loaded rules (C(auditctl -l)),
each read once per run.
"""

from __future__ import annotations

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules import (
    Rule,
    RuleError,
    parse_rule,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node


def _status(node: Node) -> dict[str, str] | str:
    """C(auditctl -s) as a mapping (enabled, pid, backlog_limit, ...), or why it cannot be read."""

    def read() -> dict[str, str] | str:
        rc, out, err = node.run([node.binary("auditctl") or "auditctl", "-s"], check=False)
        if rc != 0:
            return (err or out).strip() or f"auditctl -s failed with status {rc}"
        fields = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2:
                fields[parts[0]] = parts[1]
        return fields

    return node.cached("auditd:status", read)


def _loaded(node: Node) -> list[Rule] | str:
    """The loaded rules (C(auditctl -l), read once per run), or why they cannot be read."""

    def read() -> list[Rule] | str:
        rc, out, err = node.run([node.binary("auditctl") or "auditctl", "-l"], check=False)
        if rc != 0:
            return (err or out).strip() or f"auditctl -l failed with status {rc}"
        rules = []
        for line in out.splitlines():
            if not line.strip() or line.strip() == "No rules":
                continue
            try:
                rules.append(parse_rule(line, strict=False))
            except RuleError:
                rules.append(Rule(line.strip(), ("raw", line.strip()), "raw"))
        return rules

    return node.cached("auditd:loaded", read)


def _running(status: dict[str, str] | str) -> bool:
    return isinstance(status, dict) and status.get("pid", "0") not in ("0", "")
