# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What ufw has, read from its own files: whether it starts at boot and its log level
(/etc/ufw/ufw.conf), its default policies and IPv6 switch (/etc/default/ufw), and its rules in
order (/etc/ufw/user.rules and user6.rules). `ufw status` prints the same from these files."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import Rule, RuleError, parse_rules_file

CONF = "/etc/ufw/ufw.conf"
DEFAULTS = "/etc/default/ufw"
RULES4 = "/etc/ufw/user.rules"
RULES6 = "/etc/ufw/user6.rules"
# ufw's words for a default policy, and the iptables targets it writes for them.
POLICIES = {"allow": "ACCEPT", "deny": "DROP", "reject": "REJECT"}
POLICY_KEYS = {
    "incoming": "DEFAULT_INPUT_POLICY",
    "outgoing": "DEFAULT_OUTPUT_POLICY",
    "routed": "DEFAULT_FORWARD_POLICY",
}
LOG_LEVELS = ("off", "low", "medium", "high", "full")
_ASSIGNMENT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


class StateError(ValueError):
    """ufw's files say something ufw itself would not write; the message names the file."""


def shell_assignments(text: str) -> dict[str, str]:
    """KEY=value lines of a file ufw reads as shell assignments, quotes removed, comments skipped."""
    values = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        if match:
            value = match.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[match.group(1)] = value
    return values


@dataclass
class Firewall:
    """ufw's state: enabled at boot, log level, default policies, IPv6, and the rules in order."""

    enabled: bool
    loglevel: str
    defaults: dict[str, str]
    ipv6: bool
    rules: list[Rule] = field(default_factory=list)

    def family(self, v6: bool) -> list[Rule]:
        return [rule for rule in self.rules if rule.v6 == v6]


def read(texts: t.Mapping[str, str | None]) -> Firewall:
    """The state in ufw's files, given their texts by path (None where a file is missing)."""
    conf = shell_assignments(texts.get(CONF) or "")
    defaults = shell_assignments(texts.get(DEFAULTS) or "")
    enabled = conf.get("ENABLED", "no").lower() == "yes"
    loglevel = conf.get("LOGLEVEL", "low").lower()
    if loglevel not in LOG_LEVELS:
        raise StateError(f"{CONF}: LOGLEVEL={loglevel!r} is not one of ufw's levels ({', '.join(LOG_LEVELS)})")
    targets = {target: word for word, target in POLICIES.items()}
    policies = {}
    for direction, key in POLICY_KEYS.items():
        value = defaults.get(key, "DROP" if direction != "outgoing" else "ACCEPT").upper()
        if value not in targets:
            raise StateError(f"{DEFAULTS}: {key}={value!r}; ufw writes ACCEPT, DROP or REJECT")
        policies[direction] = targets[value]
    ipv6 = defaults.get("IPV6", "yes").lower() == "yes"
    rules: list[Rule] = []
    for path, v6 in ((RULES4, False), (RULES6, True)):
        try:
            rules += parse_rules_file(texts.get(path) or "", v6)
        except RuleError as error:
            raise StateError(f"{path}: {error}") from None
    return Firewall(enabled=enabled, loglevel=loglevel, defaults=policies, ipv6=ipv6, rules=rules)
