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


def test_a_missing_rule_before_a_present_one_moves_the_rest_into_order():
    wanted = [rule(22), rule(6443), rule(10250)]
    steps = planner.plan(firewall([rule(22), rule(10250)]), wanted, {}, None, PREFIX)
    assert steps.delete == [rule(10250)] and steps.moved == [rule(10250)]
    assert steps.add == [rule(6443), rule(10250)]
    assert steps.describe() == [
        "ufw is not enabled",
        f"missing rule: {rule(6443).describe()}",
        f"out of order: {rule(10250).describe()}",
    ]


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
