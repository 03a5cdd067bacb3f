# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Counts, per host, the tasks that ran a module on the node, and the time from first to last."""

from __future__ import annotations

DOCUMENTATION = r"""
name: module_calls
type: aggregate
short_description: Count module calls on each node and time each node's run
description:
  - Writes a JSON file (E(NODEGUARD_BENCH_OUT)) with, per host, the number of tasks that ran a
    module on the node, the number run on the controller, and the wall time.
requirements:
  - enable in callbacks_enabled
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

# Actions that never start Python on the node.
CONTROLLER_ONLY = {
    "ansible.builtin.set_fact",
    "set_fact",
    "ansible.builtin.assert",
    "assert",
    "ansible.builtin.debug",
    "debug",
    "ansible.builtin.include_vars",
    "include_vars",
    "ansible.builtin.fail",
    "fail",
    "ansible.builtin.meta",
    "meta",
    "ansible.builtin.validate_argument_spec",
    "ansible.builtin.include_tasks",
    "ansible.builtin.import_tasks",
    "ansible.builtin.include_role",
}


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "module_calls"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.hosts: dict[str, dict] = {}

    def _host(self, name: str) -> dict:
        return self.hosts.setdefault(
            name,
            {
                "node_calls": 0,
                "controller_calls": 0,
                "changed": 0,
                "first": None,
                "last": None,
                "node_actions": [],
                "roles": {},
            },
        )

    def v2_runner_on_start(self, host, task):
        entry = self._host(host.get_name())
        if entry["first"] is None:
            entry["first"] = time.monotonic()

    def _count(self, result) -> None:
        entry = self._host(result._host.get_name())
        entry["last"] = time.monotonic()
        action = result._task.action
        delegated = result._task.delegate_to in ("localhost", "127.0.0.1")
        if action in CONTROLLER_ONLY:
            return
        entry["controller_calls" if delegated else "node_calls"] += 1
        if not delegated:
            entry["node_actions"].append(action)
            role = result._task._role.get_name().split(".")[-1] if result._task._role else "(play)"
            entry["roles"][role] = entry["roles"].get(role, 0) + 1
        entry["changed"] += int(bool(result._result.get("changed")))

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        out = {
            host: {
                "node_calls": e["node_calls"],
                "controller_calls": e["controller_calls"],
                "changed": e["changed"],
                "seconds": round((e["last"] or 0) - (e["first"] or 0), 1),
                "node_actions": e["node_actions"],
                "roles": e["roles"],
            }
            for host, e in self.hosts.items()
        }
        path = os.environ.get("NODEGUARD_BENCH_OUT")
        if path:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(out, handle, indent=2)
