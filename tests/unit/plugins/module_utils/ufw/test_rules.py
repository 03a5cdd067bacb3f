# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ufw rules as values: a rule the user asks for becomes the tuple ufw 0.36 writes for the same
`ufw` command, reads back from ufw's files as the same value, and bad rules are refused with a
message naming the rule and the field."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import rules
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import RuleError, from_spec

# A rule as a user writes it, the `ufw` arguments that add it, and the tuple lines ufw 0.36 wrote
# for those arguments (IPv4 first, then IPv6 where ufw adds one): the tuples come from ufw's own
# parser and writer.
CASES = [
    (
        {"port": 22, "protocol": "tcp", "from": "10.77.0.0/24"},
        ["allow", "in", "proto", "tcp", "from", "10.77.0.0/24", "to", "any", "port", "22"],
        ["### tuple ### allow tcp 22 0.0.0.0/0 any 10.77.0.0/24 in"],
    ),
    (
        {"port": "2379:2380", "protocol": "tcp", "from": "10.77.0.5/24", "comment": "etcd peers"},
        [
            "allow",
            "in",
            "proto",
            "tcp",
            "from",
            "10.77.0.0/24",
            "to",
            "any",
            "port",
            "2379:2380",
            "comment",
            "etcd peers",
        ],
        ["### tuple ### allow tcp 2379:2380 0.0.0.0/0 any 10.77.0.0/24 in comment=65746364207065657273"],
    ),
    (
        {"port": [443, 80, "8000-8080"], "protocol": "tcp"},
        ["allow", "in", "proto", "tcp", "from", "any", "to", "any", "port", "80,443,8000:8080"],
        [
            "### tuple ### allow tcp 80,443,8000:8080 0.0.0.0/0 any 0.0.0.0/0 in",
            "### tuple ### allow tcp 80,443,8000:8080 ::/0 any ::/0 in",
        ],
    ),
    (
        {"action": "deny", "direction": "out", "interface": "eth1", "to": "169.254.169.254", "log": True},
        ["deny", "out", "on", "eth1", "log", "from", "any", "to", "169.254.169.254"],
        ["### tuple ### deny_log any any 169.254.169.254 any 0.0.0.0/0 out_eth1"],
    ),
    (
        {"route": True, "action": "deny", "interface": "cni0", "to": "169.254.169.254/32", "log": "log-all"},
        ["route", "deny", "in", "on", "cni0", "log-all", "from", "any", "to", "169.254.169.254"],
        ["### tuple ### route:deny_log-all any any 169.254.169.254 any 0.0.0.0/0 in_cni0"],
    ),
    (
        {"route": True, "interface": "cni0", "interface_out": "eth0", "from": "10.244.0.0/16"},
        ["route", "allow", "in", "on", "cni0", "out", "on", "eth0", "from", "10.244.0.0/16", "to", "any"],
        ["### tuple ### route:allow any any 0.0.0.0/0 any 10.244.0.0/16 in_cni0!out_eth0"],
    ),
    (
        {"route": True, "interface_out": "eth0", "protocol": "udp", "port": 8472},
        ["route", "allow", "out", "on", "eth0", "proto", "udp", "from", "any", "to", "any", "port", "8472"],
        [
            "### tuple ### route:allow udp 8472 0.0.0.0/0 any 0.0.0.0/0 out_eth0",
            "### tuple ### route:allow udp 8472 ::/0 any ::/0 out_eth0",
        ],
    ),
    (
        {"protocol": "gre", "from": "fd00::1/64"},
        ["allow", "in", "proto", "gre", "from", "fd00::/64", "to", "any"],
        ["### tuple ### allow gre any ::/0 any fd00::/64 in"],
    ),
    (
        {"action": "limit", "port": 2222, "protocol": "tcp", "interface": "eth0"},
        ["limit", "in", "on", "eth0", "proto", "tcp", "from", "any", "to", "any", "port", "2222"],
        [
            "### tuple ### limit tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in_eth0",
            "### tuple ### limit tcp 2222 ::/0 any ::/0 in_eth0",
        ],
    ),
    (
        {"protocol": "igmp"},
        ["allow", "in", "proto", "igmp", "from", "any", "to", "any"],
        ["### tuple ### allow igmp any 0.0.0.0/0 any 0.0.0.0/0 in"],
    ),
    (
        {"port": 53, "from_port": 1024},
        ["allow", "in", "from", "any", "port", "1024", "to", "any", "port", "53"],
        [
            "### tuple ### allow any 53 0.0.0.0/0 1024 0.0.0.0/0 in",
            "### tuple ### allow any 53 ::/0 1024 ::/0 in",
        ],
    ),
]


@pytest.mark.parametrize(("spec", "command", "tuples"), CASES, ids=[" ".join(case[1]) for case in CASES])
def test_a_rule_is_the_tuple_ufw_writes_for_its_command(spec, command, tuples):
    made = from_spec(spec, "rule 1")
    assert [rule.tuple_line() for rule in made] == tuples
    assert made[0].command() == command
    assert [rule.v6 for rule in made] == [":" in line.split()[6] for line in tuples]


@pytest.mark.parametrize(("spec", "command", "tuples"), CASES, ids=[" ".join(case[1]) for case in CASES])
def test_ufw_files_read_back_as_the_same_rules(spec, command, tuples):
    made = from_spec(spec, "rule 1")
    for rule, line in zip(made, tuples):
        text = f"*filter\n### RULES ###\n\n{line}\n-A ufw-user-input -j ACCEPT\n### END RULES ###\n"
        assert rules.parse_rules_file(text, rule.v6) == [rule]


@pytest.mark.parametrize(("spec", "command", "tuples"), CASES, ids=[" ".join(case[1]) for case in CASES])
def test_the_delete_command_is_the_add_command_without_the_comment(spec, command, tuples):
    rule = from_spec(spec, "rule 1")[0]
    plain = command[: command.index("comment")] if "comment" in command else command
    if rule.forward:
        assert rule.delete_command() == ["route", "delete", *plain[1:]]
    else:
        assert rule.delete_command() == ["delete", *plain]


def test_ipv6_off_makes_an_any_rule_ipv4_only_and_refuses_ipv6_addresses():
    assert [rule.v6 for rule in from_spec({"port": 22, "protocol": "tcp"}, "r", ipv6=False)] == [False]
    with pytest.raises(RuleError, match="IPV6=no"):
        from_spec({"from": "fd00::/8"}, "r", ipv6=False)


def test_action_log_and_comment_are_not_part_of_the_slot_ufw_matches_on():
    plain = from_spec({"port": 22, "protocol": "tcp"}, "r")[0]
    for other in ({"comment": "ssh"}, {"action": "limit"}, {"log": "log-all"}):
        changed = from_spec({"port": 22, "protocol": "tcp", **other}, "r")[0]
        assert plain != changed and plain.slot == changed.slot
    for other in ({"from": "10.0.0.0/8"}, {"port": 23}, {"protocol": "udp"}, {"interface": "eth0"}, {"route": True}):
        assert from_spec({"port": 22, "protocol": "tcp", **other}, "r")[0].slot != plain.slot


@pytest.mark.parametrize(
    ("address", "canonical", "version"),
    [
        ("any", "any", None),
        ("10.0.0.5", "10.0.0.5", 4),
        ("10.0.0.5/32", "10.0.0.5", 4),
        ("10.0.0.5/24", "10.0.0.0/24", 4),
        ("0.0.0.0/0", "0.0.0.0/0", 4),
        ("FD00::1/128", "fd00::1", 6),
        ("fd00:0:0::5/64", "fd00::/64", 6),
        ("::/0", "::/0", 6),
    ],
)
def test_addresses_are_written_as_ufw_normalises_them(address, canonical, version):
    assert rules.canonical_address(address, "from") == (canonical, version)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        (22, "22"),
        ("22", "22"),
        ("30000-32767", "30000:32767"),
        ([10250, "2379:2380", 6443], "2379:2380,6443,10250"),
        ("443, 80", "80,443"),
        (None, "any"),
        ("any", "any"),
    ],
)
def test_ports_are_written_as_ufw_sorts_them(value, canonical):
    assert rules.canonical_ports(value, "port", "tcp") == canonical


REFUSED = [
    ("a list", ["allow"], "a rule is a mapping"),
    ("an unknown key", {"port": 22, "source": "10.0.0.0/8"}, r"unknown key\(s\) source"),
    ("an unknown action", {"action": "accept"}, "action is 'accept'"),
    ("an unknown direction", {"direction": "both"}, "direction is 'both'"),
    ("route not a boolean", {"route": "yes"}, "route is 'yes'"),
    ("a routed rule with a direction", {"route": True, "direction": "out"}, "a routed rule takes no direction"),
    ("IP-in-IP", {"protocol": 4}, "IP-in-IP, protocol 4, is not a ufw protocol"),
    ("an unknown protocol", {"protocol": "sctp"}, "protocol is 'sctp'"),
    ("port zero", {"port": 0, "protocol": "tcp"}, "ports run from 1 to 65535"),
    ("port too high", {"port": 65536, "protocol": "tcp"}, "ports run from 1 to 65535"),
    ("a backwards range", {"port": "32767:30000", "protocol": "tcp"}, "from a lower port to a higher one"),
    ("a service name", {"port": "ssh", "protocol": "tcp"}, "a port is a number"),
    ("a boolean port", {"port": True}, "give a port number"),
    ("an empty item", {"port": "22,", "protocol": "tcp"}, "empty"),
    ("a repeated port", {"port": [22, "22"], "protocol": "tcp"}, "listed twice"),
    ("a range with any", {"port": "30000:32767"}, "only with protocol tcp or udp"),
    ("a list with any", {"port": [80, 443]}, "only with protocol tcp or udp"),
    ("too many ports", {"port": list(range(1, 17)), "protocol": "tcp"}, "at most 15 ports"),
    ("ranges count twice", {"port": [f"{n}:{n + 1}" for n in range(100, 116, 2)], "protocol": "tcp"}, "at most 15"),
    ("a port with gre", {"port": 22, "protocol": "gre"}, "ports need protocol tcp, udp or any"),
    ("a bad address", {"from": "10.0.0.300"}, "from is '10.0.0.300': not an IP address"),
    ("a host name", {"to": "metadata.google.internal"}, "not an IP address"),
    ("mixed versions", {"from": "10.0.0.0/8", "to": "fd00::1"}, "different IP versions"),
    ("igmp over IPv6", {"protocol": "igmp", "from": "fd00::/8"}, "only for IPv4"),
    ("a long interface", {"interface": "averyveryverylongname"}, "longer than the kernel's 15 characters"),
    ("an alias", {"interface": "eth0:1"}, "interface alias"),
    ("a bad interface", {"interface": "eth 0"}, "not an interface name"),
    ("interface_out without route", {"interface_out": "eth0"}, "interface_out is for routed rules"),
    ("a bad log", {"log": "all"}, "log is 'all'"),
    ("a quote in the comment", {"comment": "node's ssh"}, "without a single quote"),
]


@pytest.mark.parametrize(("spec", "says"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED])
def test_a_rule_ufw_would_refuse_is_refused_naming_the_rule_and_field(spec, says):
    with pytest.raises(RuleError, match=says) as caught:
        from_spec(spec, "rules[3]")
    assert str(caught.value).startswith("rules[3]")
    assert isinstance(caught.value, ControlInputError)


@pytest.mark.parametrize(
    "line",
    [
        "### tuple ### allow tcp 22 0.0.0.0/0",
        "### tuple ### accept tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
        "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 sideways",
        "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment=zz",
    ],
)
def test_a_line_ufw_would_not_write_is_reported_with_its_number(line):
    with pytest.raises(RuleError, match="line 2"):
        rules.parse_rules_file("### RULES ###\n" + line + "\n", False)


def test_application_rules_and_other_lines_are_read_as_ufw_keeps_them():
    text = (
        "*filter\n"
        "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 OpenSSH - in\n"
        "-A ufw-user-input -p tcp --dport 22 -j ACCEPT -m comment --comment 'dapp_OpenSSH'\n"
        "### tuple ### deny any any 0.0.0.0/0 any 10.0.0.0/8 in\n"
    )
    read = rules.parse_rules_file(text, False)
    assert [(rule.action, rule.dport, rule.src) for rule in read] == [
        ("allow", "22", "0.0.0.0/0"),
        ("deny", "any", "10.0.0.0/8"),
    ]


def test_describe_says_what_a_person_types():
    rule = from_spec({"port": 6443, "protocol": "tcp", "from": "10.77.0.0/24"}, "r")[0]
    assert rule.describe() == "allow in proto tcp from 10.77.0.0/24 to any port 6443"
    v6 = from_spec({"port": 6443, "protocol": "tcp", "comment": "api"}, "r")[1]
    assert v6.describe() == "allow in proto tcp from any to any port 6443 comment api (IPv6)"
    assert v6.describe(comment=False) == "allow in proto tcp from any to any port 6443 (IPv6)"
