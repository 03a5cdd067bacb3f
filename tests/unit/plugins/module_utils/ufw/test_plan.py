# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ufw's state read from its files, and the plan from it to the wanted policy: only the
difference, in the wanted order, other rules kept unless purging is asked for."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import plan as planner
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import state
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import RuleError, from_spec

# ufw 0.36's files on a fresh Debian node (comments shortened).
CONF = "# /etc/ufw/ufw.conf\n#\n\n# Set to yes to start on boot.\nENABLED=no\n\nLOGLEVEL=low\n"
DEFAULTS = (
    "# /etc/default/ufw\n#\n\nIPV6=yes\n\n"
    'DEFAULT_INPUT_POLICY="DROP"\n\nDEFAULT_OUTPUT_POLICY="ACCEPT"\n\n'
    'DEFAULT_FORWARD_POLICY="DROP"\n\nDEFAULT_APPLICATION_POLICY="SKIP"\n\nMANAGE_BUILTINS=no\n'
)
PREFIX = "nodeguard:"


def rules_file(rules, v6=False):
    chain = "ufw6" if v6 else "ufw"
    lines = ["*filter", f":{chain}-user-input - [0:0]", "### RULES ###", ""]
    for rule in rules:
        lines += [rule.tuple_line(), f"-A {chain}-user-input -j ACCEPT", ""]
    return "\n".join([*lines, "### END RULES ###", "COMMIT", ""])


def firewall(rules=(), conf=CONF, defaults=DEFAULTS):
    rules = list(rules)
    return state.read(
        {
            state.CONF: conf,
            state.DEFAULTS: defaults,
            state.RULES4: rules_file([rule for rule in rules if not rule.v6]),
            state.RULES6: rules_file([rule for rule in rules if rule.v6], v6=True),
        }
    )


def rule(port, comment=f"{PREFIX} test", **extra):
    return from_spec({"port": port, "protocol": "tcp", "from": "10.77.0.0/24", "comment": comment, **extra}, "r")[0]


def test_a_fresh_node_reads_as_ufw_installs_itself():
    fresh = firewall()
    assert (fresh.enabled, fresh.loglevel, fresh.ipv6, fresh.rules) == (False, "low", True, [])
    assert fresh.defaults == {"incoming": "deny", "outgoing": "allow", "routed": "deny"}


def test_rules_are_read_in_order_from_both_files():
    rules = [rule(22), *from_spec({"port": 6443, "protocol": "tcp"}, "r"), rule(10250)]
    read = firewall(rules).rules
    assert [(r.dport, r.v6) for r in read] == [("22", False), ("6443", False), ("10250", False), ("6443", True)]


def test_missing_files_read_as_ufws_defaults():
    read = state.read({})
    assert (read.enabled, read.loglevel, read.defaults["routed"], read.rules) == (False, "low", "deny", [])


@pytest.mark.parametrize(
    ("texts", "says"),
    [
        ({state.CONF: "LOGLEVEL=verbose\n"}, "ufw.conf: LOGLEVEL='verbose'"),
        ({state.DEFAULTS: 'DEFAULT_FORWARD_POLICY="ACCEPTED"\n'}, "DEFAULT_FORWARD_POLICY='ACCEPTED'"),
        ({state.RULES6: "### tuple ### allow tcp 22\n"}, "user6.rules: line 1"),
    ],
)
def test_files_ufw_would_not_write_are_reported_by_path(texts, says):
    with pytest.raises(state.StateError, match=says):
        state.read(texts)


def test_nothing_to_do_when_ufw_has_the_wanted_policy():
    wanted = [rule(22), rule(6443)]
    present = firewall(wanted, conf=CONF.replace("ENABLED=no", "ENABLED=yes"))
    steps = planner.plan(present, wanted, {"incoming": "deny", "routed": "deny"}, "low", PREFIX)
    assert not steps.changes and steps.describe() == []


def test_a_fresh_node_gets_every_rule_then_is_enabled():
    wanted = [rule(22), rule(6443)]
    steps = planner.plan(firewall(), wanted, {"incoming": "deny", "routed": "allow"}, "medium", PREFIX)
    assert steps.add == wanted and not steps.delete and not steps.replace
    assert steps.enable and steps.loglevel == ("low", "medium") and steps.defaults == {"routed": ("deny", "allow")}
    assert steps.describe() == [
        "ufw is not enabled",
        "logging is 'low', expected 'medium'",
        "default routed policy is 'deny', expected 'allow'",
        f"missing rule: {wanted[0].describe()}",
        f"missing rule: {wanted[1].describe()}",
    ]


def test_a_missing_rule_after_the_present_ones_is_only_added():
    steps = planner.plan(firewall([rule(22)]), [rule(22), rule(6443)], {}, None, PREFIX)
    assert steps.add == [rule(6443)] and steps.delete == [] and steps.moved == []


def test_a_missing_rule_before_a_present_one_is_inserted_before_it():
    wanted = [rule(22), rule(6443), rule(10250)]
    steps = planner.plan(firewall([rule(22), rule(10250)]), wanted, {}, None, PREFIX)
    assert steps.delete == [] and steps.moved == []
    assert steps.add == [rule(6443)]
    assert steps.anchors == {rule(6443).slot: rule(10250)}
    assert steps.describe() == ["ufw is not enabled", f"missing rule: {rule(6443).describe()}"]


def test_a_missing_rule_after_the_last_present_one_is_added_at_the_end():
    wanted = [rule(22), rule(6443), rule(10250)]
    steps = planner.plan(firewall([rule(22), rule(6443)]), wanted, {}, None, PREFIX)
    assert steps.add == [rule(10250)]
    assert steps.anchors == {}


def test_present_rules_in_the_wrong_order_are_put_back_in_order():
    wanted = [rule(22), rule(6443), rule(10250)]
    steps = planner.plan(firewall([rule(22), rule(10250), rule(6443)]), wanted, {}, None, PREFIX)
    assert sorted(r.dport for r in steps.delete) == ["10250", "6443"]
    assert steps.add == [rule(6443), rule(10250)]


def test_a_rule_with_another_action_or_comment_is_replaced_in_place():
    present = [rule(22, action="limit"), rule(6443, comment="nodeguard: old")]
    steps = planner.plan(firewall(present), [rule(22), rule(6443)], {}, None, PREFIX)
    assert steps.replace == [(present[0], rule(22)), (present[1], rule(6443))]
    assert steps.add == [] and steps.delete == []
    assert steps.describe()[1].startswith("changed rule: limit in proto tcp")


def test_managed_rules_no_longer_wanted_go_others_stay_unless_purging():
    theirs = rule(8080, comment="site web")
    ours = rule(9090)
    steps = planner.plan(firewall([theirs, ours]), [rule(22)], {}, None, PREFIX)
    assert steps.delete == [ours] and steps.kept == [theirs]
    assert f"extra rule: {ours.describe()}" in steps.describe()
    purged = planner.plan(firewall([theirs, ours]), [rule(22)], {}, None, PREFIX, purge=True)
    assert purged.delete == [theirs, ours] and purged.kept == []


def test_an_unmanaged_rule_in_a_wanted_slot_becomes_the_wanted_rule():
    theirs = rule(22, comment="")
    steps = planner.plan(firewall([theirs]), [rule(22)], {}, None, PREFIX)
    assert steps.replace == [(theirs, rule(22))] and steps.kept == []


def test_ipv4_and_ipv6_rules_are_ordered_each_in_their_own_file():
    both = from_spec({"port": 22, "protocol": "tcp", "comment": f"{PREFIX} ssh"}, "r")
    steps = planner.plan(firewall([both[0]]), both, {}, None, PREFIX)
    assert steps.add == [both[1]] and steps.delete == []


def test_repeated_wanted_rules_count_once_and_conflicting_ones_are_refused():
    steps = planner.plan(firewall(), [rule(22), rule(22)], {}, None, PREFIX)
    assert steps.add == [rule(22)]
    with pytest.raises(RuleError, match="two wanted rules take one ufw slot"):
        planner.plan(firewall(), [rule(22), rule(22, action="deny")], {}, None, PREFIX)


# One ufw command adds or deletes both halves of a rule from anywhere: moves are found across
# both IP versions, never between such halves, and adds follow the wanted list.


def anywhere(port, comment=f"{PREFIX} any"):
    return from_spec({"port": port, "protocol": "tcp", "comment": comment}, "r")


def v6_rule(port, comment=f"{PREFIX} v6"):
    return from_spec({"port": port, "protocol": "tcp", "from": "fd00::/64", "comment": comment}, "r")[0]


def test_an_ipv6_half_out_of_order_moves_both_versions_from_the_twin_pair_on():
    first = rule(22)
    api4, api6 = anywhere(6443)
    kubelet6 = v6_rule(10250)
    later4 = rule(10257)
    wanted = [first, api4, api6, later4, kubelet6]
    # IPv4 is in order; IPv6 has its rules the wrong way round.
    present = firewall([first, api4, later4, kubelet6, api6])
    assert [r.dport for r in present.family(True)] == ["10250", "6443"]
    steps = planner.plan(present, wanted, {}, None, PREFIX)
    # The first wrong rule is api6; deleting it deletes api4 too, so the move starts at api4.
    assert steps.delete == [api4, later4, kubelet6, api6]
    assert steps.moved == steps.delete
    assert steps.add == [api4, api6, later4, kubelet6]
    assert steps.replace == [] and first not in steps.delete
    assert steps.describe()[1:] == [f"out of order: {r.describe()}" for r in steps.add]


def test_an_ipv4_rule_out_of_order_moves_the_ipv6_rules_after_it_too():
    api4, api6 = anywhere(6443)
    kubelet6 = v6_rule(10250)
    wanted = [rule(22), rule(80), rule(10257), api4, api6, kubelet6]
    present = firewall([rule(22), rule(10257), rule(80), api4, api6, kubelet6])
    steps = planner.plan(present, wanted, {}, None, PREFIX)
    # rule(22) is in place; everything from rule(80) on moves, the IPv6 rules after it included.
    assert steps.add == [rule(80), rule(10257), api4, api6, kubelet6]
    assert steps.delete == [rule(10257), rule(80), api4, api6, kubelet6]
    assert rule(22) not in steps.delete


def test_a_pair_in_order_in_both_versions_stays():
    api4, api6 = anywhere(6443)
    wanted = [rule(22), api4, api6, v6_rule(10250)]
    steps = planner.plan(firewall([rule(22), api4, api6]), wanted, {}, None, PREFIX)
    assert steps.add == [v6_rule(10250)] and steps.delete == [] and steps.moved == []


def test_a_missing_ipv6_half_before_a_present_ipv6_rule_is_inserted_before_it():
    api4, api6 = anywhere(6443)
    kubelet6 = v6_rule(10250)
    steps = planner.plan(firewall([rule(22), api4, kubelet6]), [rule(22), api4, api6, kubelet6], {}, None, PREFIX)
    assert steps.delete == []
    assert steps.add == [api6]
    assert steps.anchors == {api6.slot: kubelet6}


def test_present_halves_the_wrong_way_round_move_from_their_pair_on():
    api4, api6 = anywhere(6443)
    kubelet6 = v6_rule(10250)
    present = [rule(22), api4, kubelet6, api6]
    steps = planner.plan(firewall(present), [rule(22), api4, api6, kubelet6], {}, None, PREFIX)
    # api6 is out of place: its pair api4 goes too, since one command deletes both halves.
    assert sorted(steps.delete, key=lambda r: (r.v6, r.dport)) == [api4, kubelet6, api6]
    assert steps.add == [api4, api6, kubelet6]


def test_twins():
    api4, api6 = anywhere(6443)
    assert planner.twins(api4, api6)
    assert planner.twins(api6, api4)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # One IP version twice.
        (anywhere(6443)[0], anywhere(6443)[0]),
        (anywhere(6443)[1], anywhere(6443)[1]),
        # Different ports, comments or actions.
        (anywhere(6443)[0], anywhere(443)[1]),
        (anywhere(6443)[0], anywhere(6443, comment=f"{PREFIX} other")[1]),
        (anywhere(6443)[0], from_spec({"action": "deny", "port": 6443, "protocol": "tcp"}, "r")[1]),
        # A rule that names an address is one version's only.
        (rule(6443), anywhere(6443)[1]),
        (anywhere(6443)[0], v6_rule(6443)),
        (
            from_spec({"port": 6443, "protocol": "tcp", "from": "10.0.0.0/8"}, "r")[0],
            from_spec({"port": 6443, "protocol": "tcp", "from": "fd00::/8"}, "r")[0],
        ),
    ],
)
def test_not_twins(first, second):
    assert not planner.twins(first, second)


def test_adds_follow_the_wanted_order_across_ip_versions():
    api4, api6 = anywhere(6443)
    lo4, lo6 = from_spec({"interface": "lo", "comment": f"{PREFIX} lo"}, "r")
    kubelet6 = v6_rule(10250)
    wanted = [lo4, lo6, rule(22), kubelet6, api4, api6, rule(10257)]
    steps = planner.plan(firewall(), wanted, {}, None, PREFIX)
    assert steps.add == wanted
    # Not every IPv4 rule first, then every IPv6 one.
    assert [r.v6 for r in steps.add] == [False, True, False, True, False, True, False]


def test_adds_after_present_rules_keep_the_wanted_order():
    api4, api6 = anywhere(6443)
    kubelet6 = v6_rule(10250)
    wanted = [rule(22), kubelet6, api4, api6, rule(10257)]
    steps = planner.plan(firewall([rule(22)]), wanted, {}, None, PREFIX)
    assert steps.add == [kubelet6, api4, api6, rule(10257)]
    assert steps.delete == []
