# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Would ufw, with a given policy, let the controller open a new SSH connection?

ufw takes the first of its rules that matches an incoming packet, then its default incoming
policy. Its own before.rules accept loopback traffic and packets of established connections
ahead of the user's rules, so what a policy decides is the controller's next connection: a TCP
packet from the controller's address to the node's address and SSH port, on the interface it
arrived on. A policy whose answer is not "allow" is refused before anything changes.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import Rule

# The rate ufw's limit action allows; Ansible opens a connection per task without ControlPersist.
LIMIT_RATE = "6 connections in 30 seconds"


@dataclass(frozen=True)
class Connection:
    """The controller's SSH connection as the node sees it (from SSH_CONNECTION and the routes)."""

    client: str
    server: str
    port: int
    interface: str = ""

    def describe(self) -> str:
        on = f" on {self.interface}" if self.interface else ""
        return f"SSH from {self.client} to {self.server} port {self.port}{on}"


def _address_matches(rule_address: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return address in ipaddress.ip_network(rule_address, strict=False)


def port_matches(ports: str, port: int) -> bool:
    if ports == "any":
        return True
    for item in ports.split(","):
        low, _sep, high = item.partition(":")
        if int(low) <= port <= int(high or low):
            return True
    return False


def matches(rule: Rule, connection: Connection) -> bool:
    """Whether RULE matches the first packet of a new SSH connection."""
    client = ipaddress.ip_address(connection.client)
    server = ipaddress.ip_address(connection.server)
    return (
        not rule.forward
        and rule.direction == "in"
        and rule.v6 == (client.version == 6)
        and rule.protocol in ("any", "tcp")
        and port_matches(rule.dport, connection.port)
        # The client's port is an ephemeral one nobody can predict: a rule that names source
        # ports is not counted on.
        and rule.sport == "any"
        and _address_matches(rule.src, client)
        and _address_matches(rule.dst, server)
        and rule.interface_in in ("", connection.interface)
    )


def verdict(rules: list[Rule], default_incoming: str, connection: Connection) -> tuple[bool, str]:
    """(admitted, why): what ufw does with the controller's next connection under this policy."""
    if ipaddress.ip_address(connection.client).is_loopback:
        return True, f"{connection.describe()} is loopback traffic, which ufw always accepts"
    for rule in rules:
        if not matches(rule, connection):
            continue
        if rule.action == "allow":
            return True, f"{connection.describe()} is allowed by '{rule.describe(comment=False)}'"
        if rule.action == "limit":
            return False, (
                f"{connection.describe()} would first match '{rule.describe(comment=False)}', which drops a client "
                f"after {LIMIT_RATE}; put a rule that allows the controller before it"
            )
        return False, f"{connection.describe()} would be refused by '{rule.describe(comment=False)}'"
    if default_incoming == "allow":
        return True, f"{connection.describe()} matches no rule and the default incoming policy is allow"
    return False, (
        f"{connection.describe()} matches no rule and the default incoming policy is {default_incoming}: "
        "add a rule that allows it"
    )
