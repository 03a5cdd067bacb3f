# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ufw family: every spec kind is checked before anything is read, controls that want one
setting two ways are refused, the rules of all controls make one plan, each rules control reports
its own missing, changed and out-of-order rules, and a policy that would shut the controller out
is refused before anything changes. Whole inspections run on a temporary tree holding ufw 0.36's
files, with ufw, systemctl and systemd-run faked."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils import _netsockets
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import apply, families, rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import plan as planning
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import state as ufw_state
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.guard import Connection
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import from_spec
from ansible_collections.nodeguard.hardening.plugins.modules import ufw_policy

from ..access.sshd_fakes import FakeModule, FakeSystemd
from ..system.conftest import Tree

UFW = "/opt/fake/sbin/ufw"
CONF = "# /etc/ufw/ufw.conf\n#\n\n# Set to yes to start on boot.\nENABLED={enabled}\n\nLOGLEVEL={loglevel}\n"
DEFAULTS = (
    "# /etc/default/ufw\n#\n\n# Set to yes to apply rules to support IPv6\nIPV6=yes\n\n"
    'DEFAULT_INPUT_POLICY="{incoming}"\n\nDEFAULT_OUTPUT_POLICY="ACCEPT"\n\n'
    'DEFAULT_FORWARD_POLICY="DROP"\n\nDEFAULT_APPLICATION_POLICY="SKIP"\n\n'
    "MANAGE_BUILTINS=no\n\nIPT_SYSCTL=/etc/ufw/sysctl.conf\n"
)
SSH = Connection(client="10.0.2.2", server="10.0.2.15", port=22, interface="ens4")
PREFIX = "nodeguard"


def rules_file(rules, v6=False):
    """user.rules (user6.rules) as ufw 0.36 writes it: the tuple line above each rule's iptables lines."""
    chain = "ufw6" if v6 else "ufw"
    lines = ["*filter"]
    lines += [f":{chain}-user-{name} - [0:0]" for name in ("input", "output", "forward")]
    lines += [f":{chain}-user-limit - [0:0]", f":{chain}-user-limit-accept - [0:0]", "### RULES ###", ""]
    for rule in rules:
        lines += [rule.tuple_line(), f"-A {chain}-user-input -j ACCEPT", ""]
    lines += [
        "### END RULES ###",
        "",
        "### LOGGING ###",
        f'-A {chain}-after-logging-input -j LOG --log-prefix "[UFW BLOCK] " -m limit --limit 3/min',
        "### END LOGGING ###",
        "",
        "### RATE LIMITING ###",
        f"-A {chain}-user-limit -j REJECT",
        f"-A {chain}-user-limit-accept -j ACCEPT",
        "### END RATE LIMITING ###",
        "COMMIT",
    ]
    return "\n".join(lines) + "\n"


def spec_rules(*specs):
    return [made for index, spec in enumerate(specs) for made in from_spec(spec, f"rule {index}")]


def control(cid, spec):
    return {
        "id": cid,
        "title": f"title of {cid}",
        "benchmarks": [],
        "level": 1,
        "profile": None,
        "enabled": True,
        "reason": None,
        "family": "ufw",
        "spec": spec,
        "by_platform": {},
    }


class Host:
    """A Debian node with ufw 0.36's four files in a temporary tree; ufw, systemctl and
    systemd-run are fakes that record what they are asked."""

    def __init__(self, tmp_path, *, enabled=False, rules=(), incoming="DROP", loglevel="low", service=False):
        self.tree = Tree(tmp_path)
        self.write(enabled=enabled, rules=rules, incoming=incoming, loglevel=loglevel)
        self.module = FakeModule()
        self.module.bins["ufw"] = UFW
        self.systemd = FakeSystemd()
        self.service = service
        self.ufw_calls: list[list[str]] = []
        self.fail: str | None = None
        self.module.commands["systemctl"] = self.systemctl
        self.module.commands["systemd-run"] = self.systemd.run
        self.module.commands["ufw"] = self.ufw
        self.node = Node(self.module, self.tree.paths)

    def write(self, *, enabled=False, rules=(), incoming="DROP", loglevel="low"):
        rules = list(rules)
        self.tree.write(ufw_state.CONF, CONF.format(enabled="yes" if enabled else "no", loglevel=loglevel))
        self.tree.write(ufw_state.DEFAULTS, DEFAULTS.format(incoming=incoming))
        self.tree.write(ufw_state.RULES4, rules_file([r for r in rules if not r.v6]), 0o640)
        self.tree.write(ufw_state.RULES6, rules_file([r for r in rules if r.v6], v6=True), 0o640)

    def systemctl(self, argv):
        if argv[1] == "is-enabled":
            return (0, "enabled\n", "") if self.service else (1, "disabled\n", "")
        if argv[1] == "enable":
            self.service = True
        return self.systemd(argv)

    def ufw(self, argv):
        self.ufw_calls.append(argv[1:])
        if self.fail and self.fail in " ".join(argv):
            return 1, "", "ERROR: could not update running firewall"
        return 0, "Rules updated\n", ""

    def validated(self, family, controls):
        return [(item, family.validate(self.node, item, item["spec"])) for item in controls]

    def inspect(self, controls, **options):
        family = families.Ufw(families.Options(**options))
        return family.inspect(self.node, self.validated(family, controls))


@pytest.fixture
def connection(monkeypatch):
    """The controller's SSH connection as the node sees it; each look is counted."""
    looks = []

    def connect(node):
        looks.append(node)
        return SSH

    monkeypatch.setattr(apply, "controller_connection", connect)
    return looks


@pytest.fixture
def no_connection(monkeypatch):
    def refuse(node):
        raise AssertionError("the controller's connection was looked up")

    monkeypatch.setattr(apply, "controller_connection", refuse)


# Spec validation.


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "rules",
            "spec must be a mapping with one of rules, defaults, logging, enabled, settings, before_rules, listening, "
            "backend",
        ),
        ({}, "spec must be a mapping with one of rules"),
        ({"rules": [], "defaults": {"incoming": "deny"}}, "spec must have exactly one of rules, defaults,"),
        ({"colour": "red"}, r"exactly one of .*, backend \(unknown keys: colour\)$"),
        ({"defaults": {"incoming": "deny"}, "extras": True}, r"\(unknown keys: extras\)$"),
        ({"logging": "low", "when_empty": "x", "b": 1}, r"\(unknown keys: b, when_empty\)$"),
        ({"rules": "allow 22"}, "spec.rules must be a list of rules"),
        ({"rules": [{"port": 22, "protocol": "sctp"}]}, "control 'c.one': rule 1: protocol is 'sctp'"),
        ({"rules": [{"port": 22}, {"port": 22, "colour": 1}]}, r"rule 2: unknown key\(s\) colour"),
        ({"rules": [], "extras": "yes"}, "spec.extras must be true or false"),
        ({"rules": [], "when_empty": ["no pods"]}, "spec.when_empty must be a reason in words"),
        ({"defaults": {}}, "spec.defaults maps incoming, outgoing or routed to allow, deny or reject"),
        ({"defaults": ["deny"]}, "spec.defaults maps incoming, outgoing or routed"),
        ({"defaults": {"input": "deny"}}, "spec.defaults maps incoming, outgoing or routed"),
        ({"defaults": {"incoming": "drop"}}, "default incoming policy 'drop' is not one of allow, deny, reject$"),
        ({"defaults": {"routed": "DROP"}}, "default routed policy 'DROP' is not one of"),
        ({"logging": "verbose"}, "logging 'verbose' is not one of off, low, medium, high, full$"),
        ({"logging": None}, "logging None is not one of"),
        ({"enabled": "yes"}, "spec.enabled must be true$"),
        ({"enabled": False}, "spec.enabled must be true$"),
        ({"backend": 1}, "spec.backend must be true$"),
        ({"settings": {}}, "spec.settings maps keys of /etc/default/ufw to values"),
        ({"settings": "IPV6=yes"}, "spec.settings maps keys of /etc/default/ufw to values"),
        (
            {"settings": {"DEFAULT_INPUT_POLICY": "DROP"}},
            "'DEFAULT_INPUT_POLICY' is not a setting this module manages; known: IPV6, MANAGE_BUILTINS, IPT_SYSCTL, "
            r"DEFAULT_APPLICATION_POLICY, IPT_MODULES \(the default policies have the defaults kind\)",
        ),
        ({"settings": {"IPV6": "maybe"}}, "IPV6 must be one of yes, no$"),
        ({"settings": {"DEFAULT_APPLICATION_POLICY": "accept"}}, "must be one of ACCEPT, DROP, REJECT, SKIP$"),
        ({"settings": {"IPT_SYSCTL": '/etc/ufw/sysctl.conf"; reboot; "'}}, "IPT_SYSCTL has quotes, \\$, ` or a new"),
        ({"settings": {"IPT_SYSCTL": "/etc/ufw/it's.conf"}}, "IPT_SYSCTL has quotes"),
        ({"settings": {"IPT_MODULES": "$(reboot)"}}, "IPT_MODULES has quotes"),
        ({"settings": {"IPT_MODULES": "`reboot`"}}, "IPT_MODULES has quotes"),
        ({"settings": {"IPT_MODULES": "nf_nat_ftp\nreboot"}}, "IPT_MODULES has quotes"),
        ({"settings": {"IPT_MODULES": "a\\b"}}, "IPT_MODULES has quotes"),
        ({"listening": {"ignore": ["68"]}}, r"spec.listening is \{ignore: \[PORT/PROTOCOL, ...\]\}, such as 68/udp"),
        ({"listening": {"ignore": "68/udp"}}, "spec.listening is"),
        ({"listening": {"ignore": ["68/sctp"]}}, "spec.listening is"),
        ({"listening": False}, "spec.listening is"),
        ({"listening": {"ignore": ["0/udp"]}}, "0/udp is not a port$"),
        ({"listening": {"ignore": ["65536/tcp"]}}, "65536/tcp is not a port$"),
    ],
)
def test_validate_refuses(tmp_path, spec, message):
    host = Host(tmp_path)
    family = families.Ufw(families.Options())
    with pytest.raises(c.ControlInputError, match=message) as error:
        family.validate(host.node, control("c.one", spec), spec)
    assert str(error.value).startswith("control 'c.one': ")


def test_validate_normalises_each_kind(tmp_path):
    host = Host(tmp_path)
    family = families.Ufw(families.Options())

    def check(cid, spec):
        return family.validate(host.node, control(cid, spec), spec)

    assert check("c.rules", {"rules": [{"port": 22, "protocol": "tcp", "from": "10.0.2.5/24"}]}) == {
        "kind": "rules",
        "rules": spec_rules({"port": 22, "protocol": "tcp", "from": "10.0.2.0/24"}),
        "extras": False,
        "when_empty": None,
    }
    both = check("c.both", {"rules": [{"port": 6443, "protocol": "tcp"}], "extras": True, "when_empty": "no pods"})
    assert [rule.v6 for rule in both["rules"]] == [False, True]
    assert (both["extras"], both["when_empty"]) == (True, "no pods")
    assert check("c.defaults", {"defaults": {"incoming": "deny", "routed": "allow"}}) == {
        "kind": "defaults",
        "defaults": {"incoming": "deny", "routed": "allow"},
    }
    assert check("c.logging", {"logging": "medium"}) == {"kind": "logging", "logging": "medium"}
    assert check("c.enabled", {"enabled": True}) == {"kind": "enabled"}
    assert check("c.backend", {"backend": True}) == {"kind": "backend"}
    # YAML's booleans for yes and no, and no value for an empty one.
    assert check(
        "c.settings",
        {"settings": {"IPV6": True, "MANAGE_BUILTINS": False, "IPT_MODULES": None, "IPT_SYSCTL": "/etc/ufw/s.conf"}},
    ) == {
        "kind": "settings",
        "settings": {"IPV6": "yes", "MANAGE_BUILTINS": "no", "IPT_MODULES": "", "IPT_SYSCTL": "/etc/ufw/s.conf"},
    }
    assert check("c.listening", {"listening": True}) == {"kind": "listening", "ignore": []}
    assert check("c.listening2", {"listening": None}) == {"kind": "listening", "ignore": []}
    assert check("c.listening3", {"listening": {"ignore": ["68/udp", "546/udp", "68/udp"]}}) == {
        "kind": "listening",
        "ignore": ["68/udp", "546/udp"],
    }


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (
            {"defaults": {"incoming": "deny", "routed": "deny"}},
            {"defaults": {"routed": "allow"}},
            "control 'c.second': default routed policy is wanted 'allow' here but 'deny' by control 'c.first'; "
            "switch one of them off",
        ),
        ({"logging": "low"}, {"logging": "high"}, "LOGLEVEL is wanted 'high' here but 'low' by control 'c.first'"),
        (
            {"settings": {"IPV6": "yes"}},
            {"settings": {"MANAGE_BUILTINS": "no", "IPV6": False}},
            "IPV6 is wanted 'no' here but 'yes' by control 'c.first'",
        ),
    ],
)
def test_two_controls_wanting_one_setting_two_ways_are_refused(tmp_path, first, second, message):
    host = Host(tmp_path)
    family = families.Ufw(families.Options())
    family.validate(host.node, control("c.first", first), first)
    with pytest.raises(c.ControlInputError, match=message):
        family.validate(host.node, control("c.second", second), second)


def test_controls_agreeing_on_a_setting_pass_and_each_node_judges_its_own(tmp_path):
    host = Host(tmp_path)
    family = families.Ufw(families.Options())
    for cid in ("c.first", "c.second"):
        assert family.validate(host.node, control(cid, {"logging": "low"}), {"logging": "low"})["logging"] == "low"
    assert host.node.cached("ufw:wanted", dict) == {"LOGLEVEL": ("c.first", "low")}
    # The claims live in the node's cache: a fresh node has none.
    other = Node(host.module, host.tree.paths)
    assert family.validate(other, control("c.third", {"logging": "high"}), {"logging": "high"})["logging"] == "high"
    # Kinds that claim no setting never conflict.
    assert family.validate(host.node, control("c.fourth", {"enabled": True}), {"enabled": True}) == {"kind": "enabled"}
    assert set(host.node.cached("ufw:wanted", dict)) == {"LOGLEVEL"}


# gather: the policy of all controls together.


def checked(cid, spec):
    item = control(cid, spec)
    return item, families.Ufw(families.Options()).validate(Node(FakeModule()), item, spec)


def test_gather_keeps_the_controls_order_and_gives_extras_to_the_control_asking():
    ssh = {"port": 22, "protocol": "tcp", "from": "10.0.2.0/24"}
    kubelet = {"port": 10250, "protocol": "tcp", "from": "10.77.0.0/24"}
    routes = {"route": True, "from": "10.244.0.0/16"}
    items = [
        checked("c.loopback", {"rules": [{"interface": "lo"}]}),
        checked("c.defaults", {"defaults": {"incoming": "deny"}}),
        checked("c.ports", {"rules": [ssh, kubelet], "extras": True}),
        checked("c.logging", {"logging": "medium"}),
        checked("c.defaults2", {"defaults": {"routed": "deny"}}),
        checked("c.enabled", {"enabled": True}),
        checked("c.settings", {"settings": {"IPV6": "yes"}}),
        checked("c.routes", {"rules": [routes]}),
        checked("c.listening", {"listening": True}),
    ]
    wanted = families.gather(items)
    assert list(wanted.rules) == [
        ("c.loopback", spec_rules({"interface": "lo"})[0]),
        ("c.loopback", spec_rules({"interface": "lo"})[1]),
        ("c.ports", spec_rules(ssh)[0]),
        ("c.ports", spec_rules(kubelet)[0]),
        ("c.routes", spec_rules(routes)[0]),
    ]
    assert wanted.extras == "c.ports"
    assert wanted.defaults == {"incoming": "deny", "routed": "deny"}
    assert (wanted.loglevel, wanted.enabled, wanted.settings) == ("medium", True, {"IPV6": "yes"})


def test_gather_gives_extras_to_the_first_control_asking_else_to_the_last_rules_control():
    first = checked("c.first", {"rules": [], "extras": True})
    second = checked("c.second", {"rules": [], "extras": True})
    plain = checked("c.plain", {"rules": []})
    last = checked("c.last", {"rules": []})
    assert families.gather([plain, first, second]).extras == "c.first"
    assert families.gather([plain, last, checked("c.logging", {"logging": "low"})]).extras == "c.last"
    nothing = families.gather([checked("c.enabled", {"enabled": True})])
    assert (nothing.extras, nothing.rules, nothing.enabled, nothing.loglevel) == (None, [], True, None)


# rules_finding: what one rules control reports.


def rule(port, comment=f"{PREFIX}: test", **extra):
    return spec_rules({"port": port, "protocol": "tcp", "from": "10.77.0.0/24", "comment": comment, **extra})[0]


def firewall(rules=(), enabled=False):
    rules = list(rules)
    return ufw_state.read(
        {
            ufw_state.CONF: CONF.format(enabled="yes" if enabled else "no", loglevel="low"),
            ufw_state.DEFAULTS: DEFAULTS.format(incoming="DROP"),
            ufw_state.RULES4: rules_file([r for r in rules if not r.v6]),
            ufw_state.RULES6: rules_file([r for r in rules if r.v6], v6=True),
        }
    )


def judged(present_rules, controls):
    """Each control's rules finding, for the controls' specs as (id, rules, extras, when_empty)."""
    items = [
        (control(cid, {}), {"kind": "rules", "rules": rules, "extras": extras, "when_empty": when_empty})
        for cid, rules, extras, when_empty in controls
    ]
    wanted = families.gather(items)
    present = firewall(present_rules)
    steps = planning.plan(present, [r for _cid, r in wanted.rules], {}, None, PREFIX)
    return {item["id"]: families.rules_finding(item["id"], spec, wanted, present, steps) for item, spec in items}


def test_a_missing_rule_is_a_difference_of_its_control_only():
    found = judged([rule(22)], [("c.ssh", [rule(22)], False, None), ("c.kubelet", [rule(10250)], False, None)])
    assert found["c.ssh"].differences == []
    assert found["c.ssh"].expected == found["c.ssh"].actual == [rule(22).describe()]
    assert found["c.kubelet"].differences == [
        c.difference(f"rule {rule(10250).describe()}", ufw_state.RULES4, "present", None)
    ]
    assert (found["c.kubelet"].expected, found["c.kubelet"].actual) == ([rule(10250).describe()], [])


def test_a_changed_rule_names_both_versions():
    present = [rule(22, action="limit", comment="nodeguard: old")]
    found = judged(present, [("c.ssh", [rule(22)], False, None)])
    assert found["c.ssh"].differences == [
        {
            "item": "rule allow in proto tcp from 10.77.0.0/24 to any port 22",
            "where": "/etc/ufw/user.rules",
            "expected": "allow in proto tcp from 10.77.0.0/24 to any port 22 comment nodeguard: test",
            "actual": "limit in proto tcp from 10.77.0.0/24 to any port 22 comment nodeguard: old",
        }
    ]


def test_rules_out_of_order_are_differences_where_they_belong():
    present = [rule(22), rule(10250)]
    found = judged(present, [("c.ssh", [rule(22), rule(6443)], False, None), ("c.kubelet", [rule(10250)], False, None)])
    assert found["c.ssh"].differences == [
        c.difference(f"rule {rule(6443).describe()}", ufw_state.RULES4, "present", None)
    ]
    # The missing rule is inserted before it: 10250 stays where it is.
    assert found["c.kubelet"].differences == []


def test_rules_the_wrong_way_round_are_differences_where_they_belong():
    present = [rule(22), rule(10250), rule(6443)]
    found = judged(present, [("c.ssh", [rule(22), rule(6443)], False, None), ("c.kubelet", [rule(10250)], False, None)])
    assert found["c.ssh"].differences == [
        c.difference(f"rule {rule(6443).describe()}", ufw_state.RULES4, "in the wanted order", "out of order")
    ]
    assert found["c.kubelet"].differences == [
        c.difference(f"rule {rule(10250).describe()}", ufw_state.RULES4, "in the wanted order", "out of order")
    ]


def test_an_ipv6_rule_is_reported_in_user6_rules():
    both = spec_rules({"port": 6443, "protocol": "tcp", "comment": "nodeguard: api"})
    found = judged([both[0]], [("c.api", both, False, None)])
    assert found["c.api"].differences == [
        c.difference(
            "rule allow in proto tcp from any to any port 6443 comment nodeguard: api (IPv6)",
            ufw_state.RULES6,
            "present",
            None,
        )
    ]


def test_extra_managed_rules_and_kept_rules_go_to_the_extras_control():
    theirs = rule(8080, comment="site web")
    ours = rule(9090, comment="nodeguard: old port")
    controls = [("c.ports", [rule(22)], True, None), ("c.routes", [rule(10250)], False, None)]
    found = judged([rule(22), theirs, ours, rule(10250)], controls)
    assert found["c.ports"].differences == [c.difference(f"rule {ours.describe()}", ufw_state.RULES4, None, "present")]
    assert found["c.ports"].details == {
        "kept_rules": [theirs.describe()],
        "kept_reason": "rules this collection did not make are kept unless purge is asked for",
    }
    assert (found["c.routes"].differences, found["c.routes"].details) == ([], {})


def test_without_an_extras_control_the_last_rules_control_reports_the_extras():
    ours = rule(9090, comment="nodeguard: old port")
    found = judged([ours], [("c.first", [rule(22)], False, None), ("c.last", [], False, None)])
    assert [d["item"] for d in found["c.first"].differences] == [f"rule {rule(22).describe()}"]
    assert found["c.last"].differences == [c.difference(f"rule {ours.describe()}", ufw_state.RULES4, None, "present")]


def test_a_control_without_rules_is_skipped_with_its_reason():
    found = judged(
        [rule(22)], [("c.metadata", [], False, "no pod networks are given"), ("c.ssh", [rule(22)], False, "unused")]
    )
    assert found["c.metadata"].skipped == "no pod networks are given"
    assert (found["c.metadata"].expected, found["c.metadata"].differences) == ([], [])
    # A reason for an empty list does not skip a control that has rules.
    assert found["c.ssh"].skipped is None


# Ufw.inspect on a whole node.

PORTS = control(
    "k8s.ufw.ports",
    {
        "rules": [
            {"port": 22, "protocol": "tcp", "from": "10.0.2.0/24", "comment": "nodeguard: ssh"},
            {"port": 10250, "protocol": "tcp", "from": "10.77.0.0/24", "comment": "nodeguard: kubelet"},
        ],
        "extras": True,
    },
)
KUBELET_ONLY = control(
    "k8s.ufw.ports",
    {"rules": [{"port": 10250, "protocol": "tcp", "from": "10.77.0.0/24", "comment": "nodeguard: kubelet"}]},
)
DEFAULTS_CONTROL = control("cis.ufw.defaults", {"defaults": {"incoming": "deny", "routed": "deny"}})
LOGGING = control("k8s.ufw.logging", {"logging": "low"})
ENABLED = control("cis.ufw.enabled", {"enabled": True})
SETTINGS = control("k8s.ufw.settings", {"settings": {"MANAGE_BUILTINS": "no", "IPT_MODULES": ""}})


def test_ufw_not_installed_is_unfixable_for_every_control(tmp_path, no_connection):
    host = Host(tmp_path)
    host.module.bins["ufw"] = None
    found = host.inspect([PORTS, LOGGING])
    assert set(found) == {"k8s.ufw.ports", "k8s.ufw.logging"}
    for finding in found.values():
        assert finding.expected == "ufw installed"
        assert finding.differences == [c.difference("ufw", "dpkg", "installed", None)]
        assert finding.unfixable == "ufw is not installed (the ufw package control installs it)"
        assert finding.actions == []


def test_a_policy_that_refuses_the_controller_changes_nothing(tmp_path, connection):
    host = Host(tmp_path)
    before = host.tree.snapshot()
    with pytest.raises(c.ControlInputError) as error:
        host.inspect([KUBELET_ONLY, DEFAULTS_CONTROL, ENABLED])
    assert str(error.value) == (
        "refused, nothing was changed: the policy would cut off the controller: SSH from 10.0.2.2 to 10.0.2.15 "
        "port 22 on ens4 matches no rule and the default incoming policy is deny: add a rule that allows it. "
        "The SSH port and source Ansible uses must be allowed"
    )
    assert len(connection) == 1
    assert host.ufw_calls == []
    assert [call[1] for call in host.module.calls] == ["is-enabled"]
    assert host.tree.snapshot() == before


def test_a_default_policy_change_on_an_enabled_ufw_is_judged_with_the_rules_it_keeps(tmp_path, connection):
    host = Host(tmp_path, enabled=True, incoming="ACCEPT", rules=spec_rules({"port": 10250, "protocol": "tcp"}))
    with pytest.raises(c.ControlInputError, match=r"cut off the controller: .* default incoming policy is deny"):
        host.inspect([control("cis.ufw.defaults", {"defaults": {"incoming": "deny"}})])
    deny_first = control(
        "k8s.ufw.ports",
        {"rules": [{"action": "deny", "from": "10.0.2.0/24"}, {"port": 22, "protocol": "tcp"}]},
    )
    with pytest.raises(c.ControlInputError, match=r"would be refused by 'deny in from 10.0.2.0/24 to any'"):
        host.inspect([deny_first])


def test_a_policy_that_lets_the_controller_in_shares_one_action(tmp_path, connection):
    host = Host(tmp_path)
    found = host.inspect([PORTS, DEFAULTS_CONTROL, LOGGING, ENABLED, SETTINGS])
    ssh, kubelet = spec_rules(*PORTS["spec"]["rules"])
    assert found["k8s.ufw.ports"].differences == [
        c.difference(f"rule {ssh.describe()}", ufw_state.RULES4, "present", None),
        c.difference(f"rule {kubelet.describe()}", ufw_state.RULES4, "present", None),
    ]
    assert found["cis.ufw.enabled"].differences == [
        c.difference("ENABLED", ufw_state.CONF, "yes", "no"),
        c.difference("ufw.service", "systemctl is-enabled", "enabled", "disabled"),
    ]
    assert found["k8s.ufw.settings"].differences == [c.difference("IPT_MODULES", ufw_state.DEFAULTS, "", None)]
    for cid in ("cis.ufw.defaults", "k8s.ufw.logging"):
        assert (found[cid].differences, found[cid].actions) == ([], [])
    actions = [found[cid].actions for cid in ("k8s.ufw.ports", "cis.ufw.enabled", "k8s.ufw.settings")]
    assert [len(each) for each in actions] == [1, 1, 1]
    action = actions[0][0]
    assert all(each[0] is action for each in actions)
    assert action.key == "ufw:policy"
    assert action.what == (
        "make ufw's policy the wanted one: set IPT_MODULES=; ufw is not enabled; "
        f"missing rule: {ssh.describe()}; missing rule: {kubelet.describe()}; enable ufw.service at boot"
    )
    assert len(connection) == 1
    # Inspecting changed nothing.
    assert host.ufw_calls == []


def test_the_shared_action_runs_ufw_with_the_way_back_armed(tmp_path, connection):
    host = Host(tmp_path)
    armed = []
    found = host.inspect([PORTS, ENABLED, SETTINGS], armed=armed)
    found["k8s.ufw.ports"].actions[0].run()
    assert host.ufw_calls == [
        ["allow", "in", "proto", "tcp", "from", "10.0.2.0/24", "to", "any", "port", "22", "comment", "nodeguard: ssh"],
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
            "10250",
            "comment",
            "nodeguard: kubelet",
        ],
        ["--force", "enable"],
    ]
    assert all(call[0] == UFW for call in host.module.calls if call[0].endswith("ufw"))
    # The timer was armed before /etc/default/ufw changed, ufw.service is enabled last.
    assert host.module.names() == [
        "systemctl is-enabled",
        "systemctl reset-failed",
        "systemd-run --unit=nodeguard-ufw-rollback",
        "atomic_move",
        "ufw allow",
        "ufw allow",
        "ufw --force",
        "systemctl enable",
    ]
    assert host.module.calls[-1] == ["/usr/sbin/systemctl", "enable", "ufw.service"]
    assert host.tree.read(ufw_state.DEFAULTS).endswith("IPT_SYSCTL=/etc/ufw/sysctl.conf\nIPT_MODULES=\n")
    script = host.tree.read(f"{rollback.STATE_DIR}/restore.sh")
    # ufw was disabled before: the way back switches it off again, with the ufw this run used.
    assert f"{UFW} --force disable\n" in script
    assert armed == [True]


def test_without_a_rule_for_ssh_the_controllers_rules_from_ssh_from_let_it_in(tmp_path, connection):
    host = Host(tmp_path)
    found = host.inspect([KUBELET_ONLY, ENABLED], ssh_from=["10.0.2.0/24", "any"])
    ssh4 = spec_rules({"port": 22, "protocol": "tcp", "from": "10.0.2.0/24", "comment": "nodeguard: ssh"})
    ssh_any = spec_rules({"port": 22, "protocol": "tcp", "comment": "nodeguard: ssh"})
    kubelet = spec_rules(*KUBELET_ONLY["spec"]["rules"])
    # The SSH rules come first, reported by the control that takes the extras.
    assert [d["item"] for d in found["k8s.ufw.ports"].differences] == [
        f"rule {item.describe()}" for item in [*ssh4, *ssh_any, *kubelet]
    ]
    found["k8s.ufw.ports"].actions[0].run()
    # One command adds both halves of the rule from anywhere.
    assert host.ufw_calls[:3] == [ssh4[0].command(), ssh_any[0].command(), kubelet[0].command()]
    assert host.ufw_calls[3:] == [["--force", "enable"]]
    assert len(connection) == 1


def test_ssh_rules_follow_the_port_the_controller_is_on(tmp_path):
    family = families.Ufw(families.Options(prefix="site", ssh_from=["10.0.2.0/24", "fd00::/64"]))
    made = family.ssh_rules(2222)
    assert [item.describe() for item in made] == [
        "allow in proto tcp from 10.0.2.0/24 to any port 2222 comment site: ssh",
        "allow in proto tcp from fd00::/64 to any port 2222 comment site: ssh (IPv6)",
    ]
    assert families.Ufw(families.Options()).ssh_rules(22) == []


def test_with_a_local_connection_there_is_no_guard(tmp_path, no_connection):
    host = Host(tmp_path)
    found = host.inspect([KUBELET_ONLY, DEFAULTS_CONTROL, ENABLED], local=True, ssh_from=["10.0.2.0/24"])
    # Neither the guard nor the SSH rules: there is no SSH connection to keep.
    assert [d["item"] for d in found["k8s.ufw.ports"].differences] == [
        f"rule {item.describe()}" for item in spec_rules(*KUBELET_ONLY["spec"]["rules"])
    ]
    assert len(found["cis.ufw.enabled"].actions) == 1


def test_a_change_while_ufw_stays_disabled_needs_no_guard(tmp_path, no_connection):
    host = Host(tmp_path)
    found = host.inspect([KUBELET_ONLY, DEFAULTS_CONTROL])
    assert len(found["k8s.ufw.ports"].actions) == 1
    assert found["cis.ufw.defaults"].differences == []


def test_nothing_to_change_means_no_action_and_no_guard(tmp_path, no_connection):
    wanted = spec_rules(*PORTS["spec"]["rules"])
    host = Host(tmp_path, enabled=True, rules=wanted, service=True)
    found = host.inspect([PORTS, DEFAULTS_CONTROL, LOGGING, ENABLED])
    for finding in found.values():
        assert (finding.differences, finding.actions) == ([], [])
    assert found["cis.ufw.enabled"].actual == {"ENABLED": "yes", "ufw.service": True}
    assert found["k8s.ufw.logging"].actual == "low"
    assert found["k8s.ufw.ports"].actual == [item.describe() for item in wanted]


def test_files_ufw_would_not_write_are_an_input_error(tmp_path, no_connection):
    host = Host(tmp_path, loglevel="verbose")
    with pytest.raises(c.ControlInputError, match=r"^cannot read ufw's state: /etc/ufw/ufw.conf: LOGLEVEL='verbose'"):
        host.inspect([LOGGING])


def test_two_controls_wanting_one_slot_two_ways_are_an_input_error(tmp_path, no_connection):
    host = Host(tmp_path)
    closed = control("k8s.ufw.closed", {"rules": [{"action": "deny", "port": 10250, "protocol": "tcp"}]})
    opened = control("k8s.ufw.open", {"rules": [{"port": 10250, "protocol": "tcp"}]})
    with pytest.raises(c.ControlInputError, match="two wanted rules take one ufw slot: deny in proto tcp"):
        host.inspect([closed, opened])


def test_a_listening_port_the_plan_adds_a_rule_for_is_covered(tmp_path, no_connection, monkeypatch):
    socket = _netsockets.Socket("tcp", 4, "0.0.0.0", 10250, "0.0.0.0", 0, "0A", 77)
    other = _netsockets.Socket("tcp", 4, "0.0.0.0", 9100, "0.0.0.0", 0, "0A", 78)
    monkeypatch.setattr(_netsockets, "listening", lambda node: [socket, other])
    monkeypatch.setattr(_netsockets, "owners", lambda node, inodes: {77: (10, "kubelet"), 78: (11, "node_exporter")})
    host = Host(tmp_path)
    found = host.inspect([KUBELET_ONLY, control("cis.ufw.listening", {"listening": True})], local=True)
    listening = found["cis.ufw.listening"]
    assert listening.differences == [
        c.difference("listening port 9100/tcp on 0.0.0.0 (node_exporter)", "/proc/net", "a ufw rule", None)
    ]
    assert [entry["rule"] for entry in listening.details["listening"]] == [
        None,
        spec_rules(*KUBELET_ONLY["spec"]["rules"])[0].describe(),
    ]
    # A listening port is reported, never opened: the ufw action is not the listening control's.
    assert listening.kept and listening.actions == []
    assert len(found["k8s.ufw.ports"].actions) == 1


def test_with_ipv6_off_a_rule_from_anywhere_is_complete_with_its_ipv4_half(tmp_path):
    wanted = spec_rules({"port": 6443, "protocol": "tcp", "comment": "nodeguard: api"})
    host = Host(tmp_path, enabled=True, rules=[wanted[0]], service=True)
    host.tree.write(ufw_state.DEFAULTS, DEFAULTS.format(incoming="DROP").replace("IPV6=yes", "IPV6=no"))
    api = {"port": 6443, "protocol": "tcp", "comment": "nodeguard: api"}
    found = host.inspect([control("k8s.ufw.ports", {"rules": [api]})], local=True)
    assert found["k8s.ufw.ports"].differences == []


# ufw_policy through AnsibleModule.


@pytest.fixture
def module_host(tmp_path, monkeypatch, connection):
    host = Host(tmp_path)
    monkeypatch.setattr(ufw_policy, "Node", lambda real: Node(real, host.tree.paths))
    monkeypatch.setattr(
        ufw_policy.AnsibleModule, "run_command", lambda self, args, **kw: host.module.run_command(args, **kw)
    )
    monkeypatch.setattr(
        ufw_policy.AnsibleModule, "get_bin_path", lambda self, name, **kw: host.module.get_bin_path(name)
    )
    return host


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        ufw_policy.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def module_control(item):
    return {key: item[key] for key in ("id", "title", "family", "spec")}


def test_ufw_policy_in_check_mode_reports_drift_and_changes_nothing(module_host, capsys):
    before = module_host.tree.snapshot()
    controls = [module_control(item) for item in (PORTS, LOGGING, ENABLED)]
    rc, out = run_main({"controls": controls, "_ansible_check_mode": True}, capsys)
    assert rc == 0, out
    assert {item["id"]: item["status"] for item in out["controls"]} == {
        "k8s.ufw.ports": "drift",
        "k8s.ufw.logging": "pass",
        "cis.ufw.enabled": "drift",
    }
    assert out["changed"] is True
    assert out["ufw_rollback_armed"] is False
    assert out["actions"][0].startswith("make ufw's policy the wanted one: ufw is not enabled; missing rule: ")
    assert module_host.ufw_calls == []
    assert module_host.tree.snapshot() == before


def test_ufw_policy_applies_and_says_the_rollback_is_armed(module_host, capsys):
    controls = [module_control(item) for item in (PORTS, ENABLED)]
    rc, out = run_main({"controls": controls, "rollback_timeout": 60}, capsys)
    assert rc == 0, out
    assert out["ufw_rollback_armed"] is True
    assert module_host.ufw_calls[-1] == ["--force", "enable"]
    assert module_host.systemd.timers[0][2] == "--on-active=60"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"prefix": "it's"}, "prefix must be a word of a ufw comment (no quote, no new line)"),
        ({"prefix": "  "}, "prefix must be a word of a ufw comment"),
        ({"ssh_from": ["10.0.2.0/33"]}, "ssh_from is '10.0.2.0/33': not an IP address or network"),
        ({"rollback_timeout": 10}, "the rollback timeout must be a number of seconds from 30 to 3600, got 10"),
    ],
)
def test_ufw_policy_refuses_bad_options(module_host, capsys, args, message):
    rc, out = run_main({"controls": [module_control(LOGGING)], **args}, capsys)
    assert rc == 1
    assert out["msg"].startswith(message)
    assert out["changed"] is False
    assert module_host.ufw_calls == []


BEFORE_RULES = "*filter\n-A ufw-before-input -i lo -j ACCEPT\n\n# don't delete the 'COMMIT' line\nCOMMIT\n"
IPIP = "-A ufw-before-input -p 4 -s 10.77.0.0/24 -j ACCEPT"


def test_a_missing_accept_block_is_the_protocols_controls_own_difference_and_fixed(tmp_path, no_connection):
    host = Host(tmp_path, enabled=True, service=True)
    host.tree.write("/etc/ufw/before.rules", BEFORE_RULES, 0o640)
    protocols = control("k8s.ufw.protocols", {"before_rules": [IPIP]})
    found = host.inspect([protocols, ENABLED], local=True)
    assert found["k8s.ufw.protocols"].differences == [
        c.difference("accept rules block", "/etc/ufw/before.rules", [IPIP], None)
    ]
    assert found["cis.ufw.enabled"].differences == []
    (action,) = found["k8s.ufw.protocols"].actions
    action.run()
    text = host.tree.read("/etc/ufw/before.rules")
    assert f"{IPIP}\n" in text and text.endswith("# don't delete the 'COMMIT' line\nCOMMIT\n")
    assert host.ufw_calls == [["reload"]]
    assert oct(host.tree.file("/etc/ufw/before.rules").stat().st_mode & 0o777) == "0o640"
    again = host.inspect([protocols, ENABLED], local=True)
    assert again["k8s.ufw.protocols"].differences == []
