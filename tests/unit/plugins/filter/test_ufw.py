# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ufw filters: port sets become one checked rule per source address, metadata protection
becomes routed drops after the allowed workloads, and bad input fails naming the entry."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.nodeguard.hardening.plugins.filter.ufw import (
    FilterModule,
    ufw_metadata_rules,
    ufw_port_rules,
    ufw_route_rules,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import from_spec

SOURCES = {
    "nodes": ["10.77.0.0/24"],
    "control_plane": ["10.77.0.11", "10.77.0.12"],
    "operators": ["192.0.2.0/28"],
    "nodeport_clients": [],
}
CONTROL_PLANE = [
    {"name": "kube-apiserver", "port": 6443, "protocol": "tcp", "from": ["nodes", "operators"]},
    {"name": "etcd", "port": "2379:2380", "protocol": "tcp", "from": ["control_plane"]},
    {"name": "kubelet", "port": 10250, "protocol": "tcp", "from": ["control_plane"]},
]


def test_each_entry_opens_its_port_to_each_address_of_its_groups():
    rules = ufw_port_rules(CONTROL_PLANE, SOURCES)
    assert [(rule["port"], rule["from"], rule["comment"]) for rule in rules] == [
        (6443, "10.77.0.0/24", "nodeguard: kube-apiserver"),
        (6443, "192.0.2.0/28", "nodeguard: kube-apiserver"),
        ("2379:2380", "10.77.0.11", "nodeguard: etcd"),
        ("2379:2380", "10.77.0.12", "nodeguard: etcd"),
        (10250, "10.77.0.11", "nodeguard: kubelet"),
        (10250, "10.77.0.12", "nodeguard: kubelet"),
    ]
    # Every rule is one ufw takes, IPv4 only since its source is IPv4.
    assert all(len(from_spec(rule, "r")) == 1 for rule in rules)


def test_a_group_without_addresses_opens_nothing():
    entries = [{"name": "nodeports", "port": "30000:32767", "protocol": "tcp", "from": ["nodeport_clients"]}]
    assert ufw_port_rules(entries, SOURCES) == []


def test_a_rule_two_entries_would_make_twice_is_made_once():
    entries = [
        {"name": "kubelet", "port": 10250, "protocol": "tcp", "from": ["control_plane"]},
        {"name": "kubelet-again", "port": 10250, "protocol": "tcp", "from": ["control_plane"]},
    ]
    assert len(ufw_port_rules(entries, SOURCES)) == 2


def test_two_entries_with_different_actions_for_one_slot_are_refused():
    entries = [
        {"name": "kubelet", "port": 10250, "protocol": "tcp", "from": ["control_plane"]},
        {"name": "kubelet-closed", "port": 10250, "protocol": "tcp", "from": ["control_plane"], "action": "deny"},
    ]
    with pytest.raises(
        AnsibleFilterError,
        match=re.escape(
            "'kubelet-closed' and 'kubelet' both make a rule for deny in proto tcp from 10.77.0.11 to any port 10250 "
        ),
    ):
        ufw_port_rules(entries, SOURCES)


def test_the_prefix_and_an_entrys_comment_make_the_rule_comment():
    entries = [{"name": "bgp", "port": 179, "protocol": "tcp", "from": ["nodes"], "comment": "calico bgp"}]
    assert ufw_port_rules(entries, SOURCES, prefix="site")[0]["comment"] == "site: calico bgp"


@pytest.mark.parametrize(
    ("entries", "sources", "says"),
    [
        ("calico", SOURCES, "must be a list of entries"),
        ([], ["10.0.0.0/8"], "must map group names"),
        ([{"port": 22, "from": ["nodes"]}], SOURCES, "entry 1 needs a name"),
        ([{"name": "x", "port": 22, "from": ["nodes"], "to": "any"}], SOURCES, r"'x': unknown key\(s\) to"),
        ([{"name": "x", "port": 22}], SOURCES, "'from' must list the source groups"),
        ([{"name": "x", "port": 22, "from": ["pods"]}], SOURCES, "no source group 'pods' .known groups: control_plane"),
        ([{"name": "x", "port": 22, "from": ["bad"]}], {"bad": {"a": 1}}, "must be a list of addresses"),
        ([{"name": "x", "port": 22, "from": ["bad"]}], {"bad": ["10.0.0.0/33"]}, "'x': source group 'bad' is"),
        ([{"name": "vxlan", "port": "4789:4790", "from": ["nodes"]}], SOURCES, "'vxlan': port is .*tcp or udp"),
        ([{"name": "ipip", "protocol": 4, "from": ["nodes"]}], SOURCES, "'ipip': protocol is 4, .*before.rules"),
    ],
)
def test_bad_port_sets_fail_naming_the_entry(entries, sources, says):
    with pytest.raises(AnsibleFilterError, match=says):
        ufw_port_rules(entries, sources)


def test_pods_are_kept_from_the_metadata_address_except_the_allowed_ones_first():
    rules = ufw_metadata_rules(
        ["169.254.169.254", "fd00:ec2::254"], ["10.244.0.0/16", "fd00:10:244::/56"], ["10.244.7.0/24"]
    )
    assert [(rule.get("action", "allow"), rule["from"], rule["to"]) for rule in rules] == [
        ("allow", "10.244.7.0/24", "169.254.169.254"),
        ("deny", "10.244.0.0/16", "169.254.169.254"),
        ("deny", "fd00:10:244::/56", "fd00:ec2::254"),
    ]
    assert all(rule["route"] for rule in rules)
    # Each is a routed rule ufw takes: the node's own traffic is not routed and keeps its access.
    assert all(from_spec(rule, "r")[0].forward for rule in rules)


def test_no_protected_address_means_no_rule():
    assert ufw_metadata_rules([], ["10.244.0.0/16"]) == []


@pytest.mark.parametrize(
    ("protected", "pods", "allowed", "says"),
    [
        ("169.254.169.254", ["10.244.0.0/16"], [], "protected must be a list"),
        (["169.254.169.254"], [], [], "give the cluster's pod networks"),
        (["fd00:ec2::254"], ["10.244.0.0/16"], [], "no pod network is of its IP version"),
        (["169.254.169.254"], ["10.244.0.0/36"], [], "pod network is '10.244.0.0/36'"),
        (["169.254.169.254"], ["10.244.0.0/16"], "10.244.7.7", "allowed must be a list"),
    ],
)
def test_bad_metadata_input_fails_with_what_to_fix(protected, pods, allowed, says):
    with pytest.raises(AnsibleFilterError, match=says):
        ufw_metadata_rules(protected, pods, allowed)


def test_pod_networks_are_routed_from_and_to_service_networks_to_only():
    rules = ufw_route_rules(["10.244.0.0/16", "fd00:10:244::/56"], ["10.96.0.0/12"])
    assert rules == [
        {"route": True, "from": "10.244.0.0/16", "comment": "nodeguard: pod network 10.244.0.0/16"},
        {"route": True, "to": "10.244.0.0/16", "comment": "nodeguard: cluster network 10.244.0.0/16"},
        {"route": True, "from": "fd00:10:244::/56", "comment": "nodeguard: pod network fd00:10:244::/56"},
        {"route": True, "to": "fd00:10:244::/56", "comment": "nodeguard: cluster network fd00:10:244::/56"},
        {"route": True, "to": "10.96.0.0/12", "comment": "nodeguard: cluster network 10.96.0.0/12"},
    ]
    # Each is one routed allow rule of its network's IP version, as ufw takes it.
    made = [from_spec(rule, "r") for rule in rules]
    assert all(len(each) == 1 and each[0].forward and each[0].action == "allow" for each in made)
    assert [each[0].v6 for each in made] == [False, False, True, True, False]
    assert [(each[0].src, each[0].dst) for each in made[:2]] == [
        ("10.244.0.0/16", "0.0.0.0/0"),
        ("0.0.0.0/0", "10.244.0.0/16"),
    ]


def test_route_rules_without_service_networks_and_with_a_prefix():
    assert ufw_route_rules(["10.244.0.0/16"], prefix="site") == [
        {"route": True, "from": "10.244.0.0/16", "comment": "site: pod network 10.244.0.0/16"},
        {"route": True, "to": "10.244.0.0/16", "comment": "site: cluster network 10.244.0.0/16"},
    ]
    assert ufw_route_rules([], ["10.96.0.0/12"]) == [
        {"route": True, "to": "10.96.0.0/12", "comment": "nodeguard: cluster network 10.96.0.0/12"}
    ]
    assert ufw_route_rules([]) == []


@pytest.mark.parametrize(
    ("pods", "services", "says"),
    [
        (["10.244.0.0/33"], [], "ufw_route_rules: pod_networks entry is '10.244.0.0/33': not an IP address"),
        (["10.244.0.0/16"], ["10.96.0.0/12", "cluster.local"], "service_networks entry is 'cluster.local'"),
        ("10.244.0.0/16", [], r"ufw_route_rules: pod_networks must be a list of networks \(CIDRs\)"),
        (None, [], "pod_networks must be a list of networks"),
        ([10], [], "pod_networks must be a list of networks"),
        (["10.244.0.0/16"], "10.96.0.0/12", "service_networks must be a list of networks"),
        (["10.244.0.0/16"], {"a": "10.96.0.0/12"}, "service_networks must be a list of networks"),
    ],
)
def test_bad_route_input_fails_naming_the_option(pods, services, says):
    with pytest.raises(AnsibleFilterError, match=says):
        ufw_route_rules(pods, services)


def test_the_filters_are_registered():
    assert FilterModule().filters() == {
        "ufw_port_rules": ufw_port_rules,
        "ufw_metadata_rules": ufw_metadata_rules,
        "ufw_route_rules": ufw_route_rules,
    }
