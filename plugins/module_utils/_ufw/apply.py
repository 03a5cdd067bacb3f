# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Making ufw's state the wanted one, through ufw's own commands, with the node's way back armed.

Before the first command, ufw's files (FILES: its four own and before.rules) are saved and the
node's undo timer is armed (rollback.py): if the controller does not confirm over a new
connection in time, the node puts the files back and reloads ufw (or disables it, when it was
disabled before). The steps run in an order that never leaves the controller without its allow
rule: settings of /etc/default/ufw and the accept rules block of before.rules, rules replaced in
place, rules deleted, rules added (in the wanted order, a missing rule inserted where it
belongs), default policies, log level, then C(ufw --force enable) and C(ufw.service) enabled at
boot. While ufw is disabled the commands only write its files; enabling loads them in one go. A
command that fails puts the saved files back at once and reloads ufw, so the run leaves nothing
half-done.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils import _rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.session import find_session
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.systemd import systemctl
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import before, rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import state as ufw_state
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.guard import Connection
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.plan import Plan
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import Rule, twin

FILES = (ufw_state.CONF, ufw_state.DEFAULTS, ufw_state.RULES4, ufw_state.RULES6, before.PATH)
SERVICE = "ufw.service"
_PLAIN = re.compile(r"^[A-Za-z0-9_./:,+-]*$")
_ADDR = re.compile(r"^\d+:\s+(?P<name>\S+?)(?:@\S+)?\s+inet6?\s+(?P<address>[0-9a-fA-F.:]+)/")


def settings_differences(text: str, wanted: dict[str, str]) -> list[dict]:
    values = ufw_state.shell_assignments(text)
    return [
        c.difference(key, ufw_state.DEFAULTS, value, values.get(key))
        for key, value in wanted.items()
        if values.get(key) != value
    ]


def settings_text(text: str, differences: list[dict]) -> str:
    """/etc/default/ufw with each differing key set, in place wherever it is assigned (ufw reads
    the file as shell: the last assignment wins), appended where it is not."""
    lines = text.splitlines()
    for item in differences:
        key, value = item["item"], item["expected"]
        line = f"{key}={value}" if _PLAIN.match(value) else f'{key}="{value}"'
        pattern = re.compile(rf"^\s*{re.escape(key)}=")
        found = False
        for index, existing in enumerate(lines):
            if pattern.match(existing):
                lines[index] = line
                found = True
        if not found:
            lines.append(line)
    return "\n".join(lines) + "\n"


def file_mode(path: str, default: int = 0o640) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return default


def twin_slot(rule: Rule) -> tuple:
    """The slot of the other IP version's half of a rule from anywhere to anywhere; () for others."""
    other = twin(rule)
    return other.slot if other else ()


def service_enabled(node: Node) -> bool:
    rc, out, _err = node.run([systemctl(node), "is-enabled", SERVICE], check=False)
    return rc == 0 and out.strip() in ("enabled", "enabled-runtime", "static", "alias")


def final_rules(present: ufw_state.Firewall, steps: Plan) -> list[Rule]:
    """ufw's rules once the plan has run, in order: what the guard judges."""
    deleted = {rule.slot for rule in steps.delete}
    replaced = {old.slot: new for old, new in steps.replace}
    kept = [replaced.get(rule.slot, rule) for rule in present.rules if rule.slot not in deleted]
    return kept + list(steps.add)


def interface_of(node: Node, address: str) -> str:
    """The interface holding ADDRESS (C(ip -o addr)); empty when it cannot be told."""
    tool = node.binary("ip")
    if tool is None:
        return ""
    rc, out, _err = node.run([tool, "-o", "addr", "show"], check=False)
    if rc != 0:
        return ""
    for line in out.splitlines():
        found = _ADDR.match(line.strip())
        if found and found.group("address") == address:
            return found.group("name")
    return ""


def controller_connection(node: Node) -> Connection:
    """The controller's SSH connection, as the node sees it (the module's own sshd session)."""
    session = find_session(node)
    if session is None or not (session.client_address and session.local_address and session.local_port):
        raise c.ControlInputError(
            "refused, nothing was changed: cannot find the SSH connection this module runs under, so cannot "
            "tell whether the policy lets the controller back in (when Ansible runs on the node itself, set "
            "connection local)"
        )
    try:
        ipaddress.ip_address(session.client_address)
    except ValueError:
        raise c.ControlInputError(f"the SSH client address {session.client_address!r} is not an IP address") from None
    return Connection(
        client=session.client_address,
        server=session.local_address,
        port=session.local_port,
        interface=interface_of(node, session.local_address),
    )


def describe_state(enabled: bool, loglevel: str, defaults: dict[str, str], rules: list[Rule]) -> str:
    lines = [
        f"enabled: {'yes' if enabled else 'no'}",
        f"logging: {loglevel}",
        *(f"default {direction}: {policy}" for direction, policy in sorted(defaults.items())),
        *(("(v6) " if rule.v6 else "") + rule.describe() for rule in rules),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Change:
    """One run's changes to ufw; C(action) makes them one engine Action with its undo."""

    node: Node
    tool: str
    present: ufw_state.Firewall
    steps: Plan
    settings: list[dict]
    enable_service: bool
    texts: dict[str, str | None]
    timeout: int
    armed: list[bool] = field(default_factory=list)
    # /etc/ufw/before.rules as wanted, when its block of accept rules differs.
    before: str | None = None

    @property
    def needed(self) -> bool:
        return self.steps.changes or bool(self.settings) or self.enable_service or self.before is not None

    def commands(self) -> list[list[str]]:
        """ufw's argument lists, in order; a v6 twin of a rule ufw adds with the v4 one is not repeated."""
        done: set[tuple] = set()
        out: list[list[str]] = []

        def once(args: list[str]) -> None:
            if tuple(args) not in done:
                done.add(tuple(args))
                out.append(args)

        # A rule from anywhere to anywhere: one command for both IP versions where both halves
        # are wanted (or both go), a command for its own version where its twin stays as it is.
        final = {rule.slot for rule in final_rules(self.present, self.steps)}
        deleted = {rule.slot for rule in self.steps.delete}
        for _old, new in self.steps.replace:
            once(new.command(one_version=twin_slot(new) not in final))
        for rule in self.steps.delete:
            once(["--force", *rule.delete_command(one_version=twin_slot(rule) not in deleted)])
        done.clear()
        # ufw's lists as they are when the adds run, to number the inserts as `ufw insert` does:
        # IPv4 rules from 1, IPv6 rules after the last IPv4 one.
        replaced = {old.slot: new for old, new in self.steps.replace}
        lists = {
            v6: [replaced.get(rule.slot, rule) for rule in self.present.family(v6) if rule.slot not in deleted]
            for v6 in (False, True)
        }
        for rule in self.steps.add:
            rules = lists[rule.v6]
            if any(other.slot == rule.slot for other in rules):
                continue
            anchor = self.steps.anchors.get(rule.slot)
            where = next((index for index, other in enumerate(rules) if anchor and other.slot == anchor.slot), None)
            if where is not None:
                number = where + 1 + (len(lists[False]) if rule.v6 else 0)
                args = rule.command(one_version=True)
                out.append(
                    [args[0], "insert", str(number), *args[1:]] if rule.forward else ["insert", str(number), *args]
                )
                rules.insert(where, rule)
                continue
            both = twin_slot(rule) in final
            once(rule.command(one_version=not both))
            rules.append(rule)
            if both:
                lists[not rule.v6].append(twin(rule))
        for direction, (_present, policy) in self.steps.defaults.items():
            out.append(["default", policy, direction])
        if self.steps.loglevel:
            out.append(["logging", self.steps.loglevel[1]])
        if self.steps.enable:
            out.append(["--force", "enable"])
        elif (self.settings or self.before is not None) and self.present.enabled and not self.steps.defaults:
            # Adding or deleting rules only touches ufw's user chains; the settings of
            # /etc/default/ufw and before.rules are read when ufw (re)starts, as a new default
            # policy makes it do.
            out.append(["reload"])
        return out

    def what(self) -> str:
        parts = []
        if self.settings:
            parts.append("set " + ", ".join(f"{item['item']}={item['expected']}" for item in self.settings))
        parts += self.steps.describe()
        if self.before is not None:
            parts.append(f"write the accept rules block of {before.PATH}")
        if self.enable_service:
            parts.append(f"enable {SERVICE} at boot")
        return "make ufw's policy the wanted one: " + "; ".join(parts)

    def diff(self) -> dict:
        final = final_rules(self.present, self.steps)
        defaults = {**self.present.defaults, **{key: new for key, (_old, new) in self.steps.defaults.items()}}
        return {
            "before_header": "ufw",
            "after_header": "ufw (wanted)",
            "before": describe_state(
                self.present.enabled, self.present.loglevel, self.present.defaults, self.present.rules
            ),
            "after": describe_state(
                self.present.enabled or self.steps.enable,
                self.steps.loglevel[1] if self.steps.loglevel else self.present.loglevel,
                defaults,
                final,
            ),
        }

    def run(self) -> None:
        node = self.node
        _rollback.arm(
            node, rollback.KIND, dict(self.texts), self.timeout, rollback.tail(self.present.enabled, self.tool)
        )
        self.armed.append(True)
        try:
            if self.settings:
                path = ufw_state.DEFAULTS
                atomic_write(node.module, node.path(path), settings_text(self.texts.get(path) or "", self.settings))
            if self.before is not None:
                atomic_write(node.module, node.path(before.PATH), self.before, file_mode(node.path(before.PATH)))
            for args in self.commands():
                node.run([self.tool, *args])
            if self.enable_service:
                node.run([systemctl(node), "enable", SERVICE])
        except (CommandError, OSError) as error:
            self.undo()
            raise CommandError(f"{error}; ufw's previous files are back and ufw was reloaded") from error

    def undo(self) -> None:
        """Put the saved files back now (the restore script the timer would run), then disarm."""
        script = self.node.path(f"{rollback.KIND.state_dir}/{_rollback.SCRIPT}")
        try:
            self.node.run(["/bin/sh", script])
        finally:
            _rollback.disarm(self.node, rollback.KIND)
            self.armed.clear()

    def action(self) -> Action:
        return Action(key="ufw:policy", what=self.what(), run=self.run, undo=self.undo, diff=[self.diff()])
