# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's next SSH connection under a ufw policy: the first matching rule decides, then
the default incoming policy; a policy that would not let it in is named with the rule to blame."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.guard import Connection, matches, verdict
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import from_spec

SSH = Connection(client="10.0.2.2", server="10.0.2.15", port=2222, interface="eth0")
SSH6 = Connection(client="fd00::2", server="fd00::15", port=22)


def rules(*specs):
    return [rule for index, spec in enumerate(specs) for rule in from_spec(spec, f"rule {index}")]


@pytest.mark.parametrize(
    "spec",
    [
        {"port": 2222, "protocol": "tcp"},
        {"port": 2222},
        {"port": "2000:3000", "protocol": "tcp"},
        {"port": [22, 2222], "protocol": "tcp"},
        {"port": 2222, "protocol": "tcp", "from": "10.0.2.0/24"},
        {"port": 2222, "protocol": "tcp", "to": "10.0.2.15"},
        {"port": 2222, "protocol": "tcp", "interface": "eth0"},
        {"from": "10.0.2.2"},
    ],
)
def test_rules_that_cover_the_connection_match_it(spec):
    assert matches(from_spec(spec, "r")[0], SSH)


@pytest.mark.parametrize(
    "spec",
    [
        {"port": 22, "protocol": "tcp"},
        {"port": 2222, "protocol": "udp"},
        {"port": 2222, "protocol": "tcp", "from": "10.77.0.0/24"},
        {"port": 2222, "protocol": "tcp", "to": "10.77.0.11"},
        {"port": 2222, "protocol": "tcp", "interface": "eth1"},
        {"port": 2222, "protocol": "tcp", "from_port": 40000},
        {"port": 2222, "protocol": "tcp", "direction": "out"},
        {"port": 2222, "protocol": "tcp", "route": True},
        {"protocol": "gre"},
    ],
)
def test_rules_that_miss_the_connection_do_not_match_it(spec):
    assert not matches(from_spec(spec, "r")[0], SSH)


def test_an_ipv6_connection_is_matched_by_ipv6_rules_only():
    both = from_spec({"port": 22, "protocol": "tcp"}, "r")
    assert [matches(rule, SSH6) for rule in both] == [False, True]


def test_an_allow_rule_admits_the_controller_naming_the_rule():
    admitted, why = verdict(rules({"port": 2222, "protocol": "tcp", "from": "10.0.2.0/24"}), "deny", SSH)
    assert admitted
    assert why == (
        "SSH from 10.0.2.2 to 10.0.2.15 port 2222 on eth0 is allowed by "
        "'allow in proto tcp from 10.0.2.0/24 to any port 2222'"
    )


def test_the_first_matching_rule_decides():
    deny_first = rules({"action": "deny", "from": "10.0.2.0/24"}, {"port": 2222, "protocol": "tcp"})
    admitted, why = verdict(deny_first, "allow", SSH)
    assert not admitted and "refused by 'deny in from 10.0.2.0/24 to any'" in why
    allow_first = list(reversed(deny_first))
    assert verdict(allow_first, "deny", SSH)[0]


def test_a_limit_rule_is_refused_with_a_way_out():
    admitted, why = verdict(rules({"action": "limit", "port": 2222, "protocol": "tcp"}), "deny", SSH)
    assert not admitted and "6 connections in 30 seconds" in why and "before it" in why


def test_with_no_matching_rule_the_default_incoming_policy_decides():
    others = rules({"port": 6443, "protocol": "tcp"})
    assert verdict(others, "allow", SSH)[0]
    admitted, why = verdict(others, "deny", SSH)
    assert not admitted and why.endswith("the default incoming policy is deny: add a rule that allows it")
    assert not verdict([], "reject", SSH)[0]


def test_a_controller_on_loopback_is_always_let_in():
    assert verdict([], "deny", Connection(client="127.0.0.1", server="127.0.0.1", port=22, interface="lo"))[0]
