# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ufw rules as values.

A rule the user asks for is validated and put into the form ufw keeps in its own state (the
`### tuple ###` lines of /etc/ufw/user.rules and user6.rules), so that a wanted rule and a rule
ufw has compare as equal values, and the difference between the two sets is what a run changes.
Each rule also knows the `ufw` command line that adds it and the one that deletes it.

The checks follow ufw 0.36 (Debian 12 and 13): its protocols, its port syntax (at most 15 ports
or ranges, ranges and lists only with tcp or udp), its interface names, its address forms (a host
address without a mask, a network by its network address and prefix) and the order it sorts port
lists in. ufw writes a rule whose addresses are both "any" into both files when IPv6 is on.
"""

from __future__ import annotations

import binascii
import ipaddress
import re
import typing as t
from dataclasses import dataclass, replace

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError

ACTIONS = ("allow", "deny", "reject", "limit")
# What ufw 0.36 accepts after `proto`; "any" is no protocol match.
PROTOCOLS = ("any", "tcp", "udp", "ipv6", "esp", "ah", "igmp", "gre", "vrrp")
IPV4_ONLY_PROTOCOLS = ("ipv6", "igmp")
PORT_PROTOCOLS = ("any", "tcp", "udp")
LOG_TYPES = ("", "log", "log-all")
DIRECTIONS = ("in", "out")
ANY4 = "0.0.0.0/0"
ANY6 = "::/0"
# iptables' multiport match takes at most 15 ports, a range counting as two.
MAX_PORT_SEPARATORS = 14
_INTERFACE = re.compile(r"^[a-zA-Z0-9_\-.+,=%@]+$")
_TUPLE = re.compile(r"^### tuple ###\s*")
RULE_KEYS = frozenset(
    {
        "action",
        "direction",
        "route",
        "protocol",
        "port",
        "from",
        "from_port",
        "to",
        "interface",
        "interface_out",
        "log",
        "comment",
    }
)


class RuleError(ControlInputError):
    """A rule ufw would refuse or misread; the message names the rule and what is wrong."""


@dataclass(frozen=True)
class Rule:
    """One rule as ufw keeps it: fields in ufw's canonical form."""

    action: str
    protocol: str
    dport: str
    dst: str
    sport: str
    src: str
    direction: str
    forward: bool = False
    interface_in: str = ""
    interface_out: str = ""
    log: str = ""
    comment: str = ""
    v6: bool = False

    @property
    def slot(self) -> tuple:
        """What ufw matches a rule on: everything but its action, log type and comment.

        ufw keeps one rule per slot: adding a rule whose slot is taken replaces that rule in place
        (its action, log type or comment change), and deleting names the rule's action too.
        """
        return (
            self.v6,
            self.forward,
            self.protocol,
            self.dport,
            self.dst,
            self.sport,
            self.src,
            self.direction,
            self.interface_in,
            self.interface_out,
        )

    def tuple_line(self) -> str:
        """The rule as ufw writes it in user.rules (user6.rules for an IPv6 rule)."""
        action = ("route:" if self.forward else "") + self.action + (f"_{self.log}" if self.log else "")
        if self.interface_in and self.interface_out:
            where = f"in_{self.interface_in}!out_{self.interface_out}"
        elif self.interface_in or self.interface_out:
            where = f"{self.direction}_{self.interface_in or self.interface_out}"
        else:
            where = self.direction
        line = f"### tuple ### {action} {self.protocol} {self.dport} {self.dst} {self.sport} {self.src} {where}"
        if self.comment:
            line += " comment=" + binascii.hexlify(self.comment.encode("utf-8")).decode("ascii")
        return line

    def command(self, one_version: bool = False) -> list[str]:
        """The arguments of `ufw` that add this rule.

        A rule whose addresses are both "any" is written "from any", which ufw applies to IPv4 and
        IPv6 at once; with C(one_version) its source is written 0.0.0.0/0 or ::/0, which ufw
        applies to this rule's IP version only."""
        args = ["route"] if self.forward else []
        args.append(self.action)
        if self.forward:
            if self.interface_in:
                args += ["in", "on", self.interface_in]
            if self.interface_out:
                args += ["out", "on", self.interface_out]
        else:
            args.append(self.direction)
            if self.interface_in or self.interface_out:
                args += ["on", self.interface_in or self.interface_out]
        if self.log:
            args.append(self.log)
        if self.protocol != "any":
            args += ["proto", self.protocol]
        source = _cli_address(self.src)
        if one_version and source == "any" and _cli_address(self.dst) == "any":
            source = ANY6 if self.v6 else ANY4
        args += ["from", source]
        if self.sport != "any":
            args += ["port", self.sport]
        args += ["to", _cli_address(self.dst)]
        if self.dport != "any":
            args += ["port", self.dport]
        if self.comment:
            args += ["comment", self.comment]
        return args

    def delete_command(self, one_version: bool = False) -> list[str]:
        """The arguments of `ufw` that delete this rule (ufw matches it without its comment)."""
        args = self.command(one_version)
        if self.comment:
            args = args[:-2]
        return ["route", "delete", *args[1:]] if self.forward else ["delete", *args]

    def describe(self, comment: bool = True) -> str:
        """The rule as a person reads it: ufw's own words, IPv4 or IPv6 (with its comment or without)."""
        words = self.command()
        if self.comment and not comment:
            words = words[:-2]
        return " ".join(words) + (" (IPv6)" if self.v6 else "")


def twin(rule: Rule) -> Rule | None:
    """The other IP version's half of a rule whose addresses are both "any" (one ufw command adds
    or deletes both halves); None for a rule that names an address."""
    anywhere = {ANY4: ANY6, ANY6: ANY4}
    if rule.src not in anywhere or rule.dst not in anywhere:
        return None
    return replace(rule, v6=not rule.v6, src=anywhere[rule.src], dst=anywhere[rule.dst])


def _cli_address(address: str) -> str:
    return "any" if address in (ANY4, ANY6) else address


def human_sort_key(text: str) -> list:
    """ufw's order for the ports of a list: numbers by value, words without case."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def canonical_ports(value: t.Any, what: str, protocol: str) -> str:
    """PORT as ufw keeps it: "any", "22", "2379:2380" or a sorted list "80,443,8000:8080"."""
    if value is None or value == "any":
        return "any"
    if isinstance(value, bool):
        raise RuleError(f"{what} is {value!r}: give a port number, a range 'LOW:HIGH' or a list of them")
    items: list
    if isinstance(value, int):
        items = [str(value)]
    elif isinstance(value, str):
        items = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, str)):
                raise RuleError(f"{what} has {item!r}: each port is a number or a range 'LOW:HIGH'")
            items.append(str(item).strip())
    else:
        raise RuleError(f"{what} is {value!r}: give a port number, a range 'LOW:HIGH' or a list of them")
    if not items or any(not item for item in items):
        raise RuleError(f"{what} is {value!r}: a port or range is empty")
    for item in items:
        bounds = item.replace("-", ":").split(":")
        if len(bounds) > 2 or not all(bound.isdigit() for bound in bounds):
            raise RuleError(f"{what} has {item!r}: a port is a number from 1 to 65535, a range is 'LOW:HIGH'")
        numbers = [int(bound) for bound in bounds]
        if not all(1 <= number <= 65535 for number in numbers):
            raise RuleError(f"{what} has {item!r}: ports run from 1 to 65535")
        if len(numbers) == 2 and numbers[0] >= numbers[1]:
            raise RuleError(f"{what} has {item!r}: a range goes from a lower port to a higher one")
    items = [item.replace("-", ":") for item in items]
    multi = len(items) > 1 or ":" in items[0]
    if multi and protocol not in ("tcp", "udp"):
        raise RuleError(f"{what} is {value!r}: ufw takes a range or a list of ports only with protocol tcp or udp")
    if sum(item.count(":") for item in items) + len(items) - 1 > MAX_PORT_SEPARATORS:
        raise RuleError(f"{what} is {value!r}: ufw takes at most 15 ports in one rule, a range counting as two")
    if len(set(items)) != len(items):
        raise RuleError(f"{what} is {value!r}: a port is listed twice")
    return ",".join(sorted(items, key=human_sort_key))


def canonical_address(value: t.Any, what: str) -> tuple[str, int | None]:
    """ADDRESS as ufw keeps it and its IP version (None for "any").

    A host is written without a mask; a network by its network address and prefix, as ufw does
    when it normalises "10.0.0.5/24" to "10.0.0.0/24".
    """
    if value is None or value == "any":
        return "any", None
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{what} is {value!r}: give an IPv4 or IPv6 address or network, or 'any'")
    text = value.strip().lower()
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as error:
        raise RuleError(f"{what} is {value!r}: not an IP address or network ({error})") from None
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address), network.version
    if network.prefixlen == 0:
        return (ANY4 if network.version == 4 else ANY6), network.version
    return f"{network.network_address}/{network.prefixlen}", network.version


def check_interface(value: t.Any, what: str) -> str:
    """An interface name as ufw takes it (at most 15 characters, no alias, no '!')."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise RuleError(f"{what} is {value!r}: give an interface name")
    if len(value) > 15:
        raise RuleError(f"{what} {value!r} is longer than the kernel's 15 characters")
    if ":" in value:
        raise RuleError(f"{what} {value!r} is an interface alias, which ufw cannot match")
    if value in (".", "..") or not _INTERFACE.match(value):
        raise RuleError(f"{what} {value!r} is not an interface name ufw takes (letters, digits and _-.+,=%@)")
    return value


def _choice(spec: dict, key: str, choices: t.Sequence[str], default: str, label: str) -> str:
    value = spec.get(key, default)
    if value is None:
        value = default
    if not isinstance(value, str) or value.lower() not in choices:
        raise RuleError(f"{label}: {key} is {value!r}, expected one of {', '.join(repr(c) for c in choices if c)}")
    return value.lower()


def from_spec(spec: t.Any, label: str, ipv6: bool = True) -> list[Rule]:
    """The rules ufw keeps for one rule the user asked for (SPEC), or a RuleError naming LABEL.

    SPEC keys: action (allow, deny, reject, limit; default allow), direction (in, out; default
    in), route (a forwarded rule), protocol, port, from, from_port, to, interface (in on it;
    for a route, the interface packets come in on), interface_out (a route's outgoing
    interface), log (true, 'log' or 'log-all'), comment. A rule whose addresses are both "any"
    becomes an IPv4 and, with IPV6 on, an IPv6 rule, as ufw makes it.
    """
    if not isinstance(spec, dict):
        raise RuleError(f"{label} is {spec!r}: a rule is a mapping of action, port, from, to, ...")
    unknown = sorted(set(spec) - RULE_KEYS)
    if unknown:
        raise RuleError(f"{label}: unknown key(s) {', '.join(unknown)}; a rule takes {', '.join(sorted(RULE_KEYS))}")
    action = _choice(spec, "action", ACTIONS, "allow", label)
    direction = _choice(spec, "direction", DIRECTIONS, "in", label)
    route = spec.get("route", False)
    if not isinstance(route, bool):
        raise RuleError(f"{label}: route is {route!r}, expected true or false")
    if route and spec.get("direction") is not None:
        raise RuleError(f"{label}: a routed rule takes no direction; name its interface and interface_out instead")
    protocol = spec.get("protocol", "any")
    if isinstance(protocol, str):
        protocol = protocol.lower()
    if protocol not in PROTOCOLS:
        hint = (
            " (IP-in-IP, protocol 4, is not a ufw protocol: allow it in before.rules)"
            if str(protocol) in ("4", "ipip", "ipencap")
            else ""
        )
        raise RuleError(f"{label}: protocol is {protocol!r}, expected one of {', '.join(PROTOCOLS)}{hint}")
    dport = canonical_ports(spec.get("port"), f"{label}: port", protocol)
    sport = canonical_ports(spec.get("from_port"), f"{label}: from_port", protocol)
    if (dport != "any" or sport != "any") and protocol not in PORT_PROTOCOLS:
        raise RuleError(f"{label}: ports need protocol tcp, udp or any, not {protocol!r}")
    src, src_version = canonical_address(spec.get("from"), f"{label}: from")
    dst, dst_version = canonical_address(spec.get("to"), f"{label}: to")
    if src_version and dst_version and src_version != dst_version:
        raise RuleError(f"{label}: from {src} and to {dst} are of different IP versions")
    version = src_version or dst_version
    if version == 6 and protocol in IPV4_ONLY_PROTOCOLS:
        raise RuleError(f"{label}: protocol {protocol} exists only for IPv4")
    if version == 6 and not ipv6:
        raise RuleError(f"{label}: an IPv6 address while ufw's IPv6 support is off (IPV6=no in /etc/default/ufw)")
    interface = check_interface(spec.get("interface"), f"{label}: interface")
    interface_out = check_interface(spec.get("interface_out"), f"{label}: interface_out")
    if interface_out and not route:
        raise RuleError(
            f"{label}: interface_out is for routed rules; an outgoing rule names its interface with interface"
        )
    log = spec.get("log", "")
    if log is True:
        log = "log"
    elif log is False or log is None:
        log = ""
    if log not in LOG_TYPES:
        raise RuleError(f"{label}: log is {log!r}, expected true, false, 'log' or 'log-all'")
    comment = spec.get("comment", "")
    if comment is None:
        comment = ""
    if not isinstance(comment, str) or "'" in comment or "\n" in comment:
        raise RuleError(f"{label}: comment is {comment!r}: ufw takes one line of text without a single quote")
    interface_in, interface_outgoing = interface, interface_out
    if not route and direction == "out":
        interface_in, interface_outgoing = "", interface
    rule = Rule(
        action=action,
        protocol=protocol,
        dport=dport,
        dst=dst if dst_version else ANY4,
        sport=sport,
        src=src if src_version else ANY4,
        direction="in" if route else direction,
        forward=route,
        interface_in=interface_in,
        interface_out=interface_outgoing,
        log=log,
        comment=comment,
        v6=False,
    )
    if route and not interface_in and interface_outgoing:
        rule = replace(rule, direction="out")
    if version == 6:
        return [_as_v6(rule, src if src_version else ANY6, dst if dst_version else ANY6)]
    if version == 4 or not ipv6 or protocol in IPV4_ONLY_PROTOCOLS:
        return [rule]
    return [rule, _as_v6(rule, ANY6, ANY6)]


def _as_v6(rule: Rule, src: str, dst: str) -> Rule:
    return replace(rule, v6=True, src=src, dst=dst)


def parse_rules_file(text: str, v6: bool) -> list[Rule]:
    """The rules in ufw's user.rules (user6.rules when V6), in ufw's order.

    Rules ufw made for application profiles (dapp/sapp fields) are read with their ports as ufw
    stored them; a line ufw itself would skip as malformed raises RuleError.
    """
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not _TUPLE.match(raw):
            continue
        line, _sep, encoded = raw.partition(" comment=")
        comment = ""
        if encoded.strip():
            try:
                comment = binascii.unhexlify(encoded.strip()).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise RuleError(f"line {number}: the comment {encoded.strip()!r} is not ufw's hex form") from None
        fields = _TUPLE.sub("", line).split()
        if len(fields) not in (7, 9):
            raise RuleError(f"line {number}: {raw.strip()!r} is not a rule tuple ufw writes")
        action, protocol, dport, dst, sport, src = fields[:6]
        where = fields[-1]
        forward = action.startswith("route:")
        action = action.split(":", 1)[1] if forward else action
        action, _sep, log = action.partition("_")
        interface_in = interface_out = ""
        if "!" in where:
            incoming, _sep, outgoing = where.partition("!")
            direction = "in"
            interface_in = incoming.partition("_")[2]
            interface_out = outgoing.partition("_")[2]
        else:
            direction, _sep, interface = where.partition("_")
            if direction == "in":
                interface_in = interface
            else:
                interface_out = interface
        if action not in ACTIONS or log not in LOG_TYPES or direction not in DIRECTIONS:
            raise RuleError(f"line {number}: {raw.strip()!r} is not a rule tuple ufw writes")
        rules.append(
            Rule(
                action=action,
                protocol=protocol,
                dport=dport,
                dst=dst,
                sport=sport,
                src=src,
                direction=direction,
                forward=forward,
                interface_in=interface_in,
                interface_out=interface_out,
                log=log,
                comment=comment,
                v6=v6,
            )
        )
    return rules
