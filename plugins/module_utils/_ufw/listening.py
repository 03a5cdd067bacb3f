# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every port the node listens on has a ufw rule (CIS Debian Linux 12 4.2.6).

The node's sockets are read from the kernel's tables (/proc/net/tcp, tcp6, udp, udp6): TCP
sockets listening and UDP sockets bound, on an address other than loopback. Each must have an
incoming rule, in the policy as it is after this run, that names its port and protocol and takes
its address (any action: a rule that denies is a decision too; a rule for every port is not one
for this port). A socket on :: (dual stack) is covered by a rule of either IP version, one on
0.0.0.0 by an IPv4 rule. A port without a rule is reported with the program that holds it; this
run never opens a port because something listens on it. The ports the spec's C(ignore) names
(C(68/udp), the DHCP client, by default in the role) are not judged.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils import _netsockets
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.guard import port_matches
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import Rule

IGNORE_RE = re.compile(r"^(?P<port>\d{1,5})/(?P<protocol>tcp|udp)$")
KEPT = "a listening port is never opened by this run: add it to a port set, or stop what listens"


def check_ignore(control: dict, value: t.Any) -> list[str]:
    if value is None or value is True:
        return []
    if isinstance(value, dict) and set(value) - {"ignore"}:
        raise c.ControlInputError(
            f"control {control['id']!r}: spec.listening takes ignore only, not {', '.join(sorted(map(str, value)))}"
        )
    ignore = value.get("ignore", []) if isinstance(value, dict) else None
    if not isinstance(ignore, list) or not all(isinstance(item, str) and IGNORE_RE.match(item) for item in ignore):
        raise c.ControlInputError(
            f"control {control['id']!r}: spec.listening is {{ignore: [PORT/PROTOCOL, ...]}}, such as 68/udp"
        )
    for item in ignore:
        if not 0 < int(item.split("/")[0]) < 65536:
            raise c.ControlInputError(f"control {control['id']!r}: {item} is not a port")
    return list(dict.fromkeys(ignore))


def covered(rules: list[Rule], socket: _netsockets.Socket) -> Rule | None:
    """The first incoming rule that names the socket's protocol, port and address."""
    address = ipaddress.ip_address(socket.local_address)
    for rule in rules:
        # A socket on :: takes both IP versions (unless it is IPv6-only, which the tables do not
        # say): a rule of either version decides for its port, the default policy for the other.
        # One on 0.0.0.0 takes IPv4 only.
        # A rule for every port (the loopback rules of CIS 4.2.4, a source allowed or denied as a
        # whole) is no rule for this port: CIS 4.2.6 wants the port named.
        if rule.forward or rule.direction != "in" or rule.dport == "any":
            continue
        if not (address.is_unspecified and address.version == 6) and rule.v6 != (address.version == 6):
            continue
        if rule.protocol not in ("any", socket.protocol) or not port_matches(rule.dport, socket.local_port):
            continue
        network = ipaddress.ip_network(rule.dst, strict=False)
        if address.is_unspecified or address in network or network.prefixlen == 0:
            return rule
    return None


def finding(node: Node, rules: list[Rule], ignore: list[str]) -> Finding:
    sockets = [
        socket
        for socket in _netsockets.listening(node)
        if not _netsockets.is_loopback(socket.local_address) and f"{socket.local_port}/{socket.protocol}" not in ignore
    ]
    owners = _netsockets.owners(node, {socket.inode for socket in sockets}) if sockets else {}
    seen: dict[tuple, dict] = {}
    for socket in sockets:
        key = (socket.protocol, socket.local_port, socket.local_address)
        if key in seen:
            continue
        owner = owners.get(socket.inode)
        rule = covered(rules, socket)
        seen[key] = {
            "port": f"{socket.local_port}/{socket.protocol}",
            "address": socket.local_address,
            "program": owner[1] if owner else None,
            "rule": rule.describe() if rule else None,
        }
    entries = sorted(seen.values(), key=lambda item: (int(item["port"].split("/")[0]), item["port"], item["address"]))
    missing = [entry for entry in entries if entry["rule"] is None]
    differences = [
        c.difference(
            f"listening port {entry['port']} on {entry['address']}"
            + (f" ({entry['program']})" if entry["program"] else ""),
            "/proc/net",
            "a ufw rule",
            None,
        )
        for entry in missing
    ]
    return Finding(
        expected="a rule for every port listening beyond loopback",
        actual=[f"{entry['port']} on {entry['address']}" for entry in entries],
        differences=differences,
        kept=KEPT if differences else None,
        details={"listening": entries, "ignored": ignore},
    )
