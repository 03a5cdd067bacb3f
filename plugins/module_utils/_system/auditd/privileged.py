# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The rules for the privileged programs of the node: one per SUID/SGID program on a local
filesystem mounted without nosuid and noexec (found by the shared walk, see walk.py).
"""

from __future__ import annotations

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd.rules import Rule, parse_rule
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.walk import LOCAL_TYPES, excluded, local_walk


def privileged_rules(node: Node, spec: dict, note: dict) -> list[Rule]:
    """One rule per SUID/SGID program the walk found on a local filesystem mounted without
    nosuid and noexec, outside the excluded mounts; C(note) tells what was left out."""
    walked = local_walk(node)
    rules = []
    for entry in walked.suid_sgid:
        mount = entry.mount
        if mount.fstype not in LOCAL_TYPES or mount.options & {"nosuid", "noexec"}:
            continue
        if mount.point in spec["exclude_mounts"] or excluded(entry.path, spec["exclude_mounts"]):
            continue
        if any(ch.isspace() for ch in entry.path):
            note.setdefault("left out: path with white space (auditctl cannot read it)", []).append(entry.path)
            continue
        rules.append(
            parse_rule(
                f"-a always,exit -F path={entry.path} -F perm=x -F auid>={spec['uid_min']} "
                f"-F auid!=unset -k {spec['key']}"
            )
        )
    note["programs found"] = len(rules)
    return rules
