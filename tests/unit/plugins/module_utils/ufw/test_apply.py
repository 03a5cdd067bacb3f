# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Making ufw's state the wanted one: /etc/default/ufw edited in place, ufw's commands in an order
that never leaves the controller without its rule, one command for both halves of a rule from
anywhere, the way back armed first and taken at once when a command fails, and the controller's
connection (its interface from `ip -o addr show`)."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils import _rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.session import Session
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import apply, rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import plan as planning
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import state as ufw_state
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.guard import Connection
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.plan import Plan
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import from_spec, parse_rules_file

from ..access.sshd_fakes import FakeModule, FakeSystemd
from ..system.conftest import Tree

CONF = "# /etc/ufw/ufw.conf\n#\n\n# Set to yes to start on boot.\nENABLED={enabled}\n\nLOGLEVEL=low\n"
DEFAULTS = (
    "# /etc/default/ufw\n#\n\n# Set to yes to apply rules to support IPv6 (no means only IPv6 on loopback\n"
    "# accepted). You will need to 'disable' and then 'enable' the firewall for the changes to take affect.\n"
    "IPV6=yes\n\n"
    'DEFAULT_INPUT_POLICY="DROP"\n\nDEFAULT_OUTPUT_POLICY="ACCEPT"\n\n'
    'DEFAULT_FORWARD_POLICY="DROP"\n\nDEFAULT_APPLICATION_POLICY="SKIP"\n\n'
    "# Set to 'yes' if ufw should manage the built-in chains.\n#MANAGE_BUILTINS=yes\nMANAGE_BUILTINS=no\n\n"
    "IPT_SYSCTL=/etc/ufw/sysctl.conf\n"
)
RULES4 = "*filter\n:ufw-user-input - [0:0]\n### RULES ###\n### END RULES ###\nCOMMIT\n"
PREFIX = "nodeguard"


def rules(*specs):
    return [made for index, spec in enumerate(specs) for made in from_spec(spec, f"rule {index}")]


def rule(port, comment=f"{PREFIX}: test", **extra):
    return rules({"port": port, "protocol": "tcp", "from": "10.77.0.0/24", "comment": comment, **extra})[0]


def firewall(present=(), enabled=False):
    return ufw_state.Firewall(
        enabled=enabled,
        loglevel="low",
        defaults={"incoming": "deny", "outgoing": "allow", "routed": "deny"},
        ipv6=True,
        rules=list(present),
    )


def change(steps, present=None, settings=(), enable_service=False, node=None, texts=None, tool="/usr/sbin/ufw"):
    return apply.Change(
        node=node,
        tool=tool,
        present=present or firewall(),
        steps=steps,
        settings=list(settings),
        enable_service=enable_service,
        texts=texts or {},
        timeout=120,
    )


# /etc/default/ufw.


def test_settings_differences_compare_values_without_quotes():
    wanted = {"IPV6": "yes", "DEFAULT_APPLICATION_POLICY": "SKIP", "MANAGE_BUILTINS": "yes", "IPT_MODULES": ""}
    assert apply.settings_differences(DEFAULTS, wanted) == [
        c.difference("MANAGE_BUILTINS", ufw_state.DEFAULTS, "yes", "no"),
        c.difference("IPT_MODULES", ufw_state.DEFAULTS, "", None),
    ]
    assert apply.settings_differences("", {"IPV6": "yes"}) == [c.difference("IPV6", ufw_state.DEFAULTS, "yes", None)]


def test_settings_text_sets_keys_in_place_keeps_the_rest_and_appends_missing_ones():
    wanted = {
        "IPV6": "no",
        "MANAGE_BUILTINS": "yes",
        "IPT_SYSCTL": "/etc/ufw/sysctl-k8s.conf",
        "IPT_MODULES": "nf_conntrack_ftp nf_nat_ftp",
        "DEFAULT_APPLICATION_POLICY": "SKIP",
    }
    differences = apply.settings_differences(DEFAULTS, wanted)
    text = apply.settings_text(DEFAULTS, differences)
    assert text == DEFAULTS.replace("\nIPV6=yes\n", "\nIPV6=no\n").replace(
        "#MANAGE_BUILTINS=yes\nMANAGE_BUILTINS=no\n", "#MANAGE_BUILTINS=yes\nMANAGE_BUILTINS=yes\n"
    ).replace("IPT_SYSCTL=/etc/ufw/sysctl.conf\n", "IPT_SYSCTL=/etc/ufw/sysctl-k8s.conf\n") + (
        'IPT_MODULES="nf_conntrack_ftp nf_nat_ftp"\n'
    )
    # What ufw reads back is what was wanted, and the comments are all there.
    assert apply.settings_differences(text, wanted) == []
    assert [line for line in text.splitlines() if line.startswith("#")] == [
        line for line in DEFAULTS.splitlines() if line.startswith("#")
    ]


@pytest.mark.parametrize(
    ("text", "key", "value", "expected"),
    [
        ("", "IPV6", "yes", "IPV6=yes\n"),
        ("IPV6=no", "IPV6", "yes", "IPV6=yes\n"),
        ("  IPV6=no\n# end\n", "IPV6", "yes", "IPV6=yes\n# end\n"),
        ("# IPV6=no\n", "IPV6", "yes", "# IPV6=no\nIPV6=yes\n"),
        ("IPV6_EXTRA=no\n", "IPV6", "yes", "IPV6_EXTRA=no\nIPV6=yes\n"),
        ('IPT_MODULES="nf_nat_ftp"\n', "IPT_MODULES", "", "IPT_MODULES=\n"),
        ("", "IPT_MODULES", "nf_nat_ftp nf_nat_tftp", 'IPT_MODULES="nf_nat_ftp nf_nat_tftp"\n'),
        ("", "IPT_SYSCTL", "/etc/ufw/sysctl.conf", "IPT_SYSCTL=/etc/ufw/sysctl.conf\n"),
        ("", "IPT_SYSCTL", "/etc/ufw/my sysctl.conf", 'IPT_SYSCTL="/etc/ufw/my sysctl.conf"\n'),
    ],
)
def test_settings_text_writes_each_value_as_the_shell_reads_it(text, key, value, expected):
    written = apply.settings_text(text, [c.difference(key, ufw_state.DEFAULTS, value, None)])
    assert written == expected
    assert ufw_state.shell_assignments(written)[key] == value


def test_settings_text_converges_on_a_key_assigned_twice():
    text = "IPV6=no\n# later override\nIPV6=yes\n"
    differences = apply.settings_differences(text, {"IPV6": "no"})
    assert differences == [c.difference("IPV6", ufw_state.DEFAULTS, "no", "yes")]
    assert apply.settings_differences(apply.settings_text(text, differences), {"IPV6": "no"}) == []


# The rules after the plan.


def test_final_rules_keep_replace_in_place_drop_deleted_then_append_added():
    a, b, old_c, d, e, f = rule(22), rule(80), rule(443, action="limit"), rule(8080), rule(9090), rule(9100)
    new_c = rule(443)
    steps = Plan(delete=[b], replace=[(old_c, new_c)], add=[e, f])
    assert apply.final_rules(firewall([a, b, old_c, d]), steps) == [a, new_c, d, e, f]
    assert apply.final_rules(firewall([a]), Plan()) == [a]


# The commands and their order.


def test_commands_replace_then_delete_then_add_then_defaults_logging_enable():
    limited, allowed = rule(22, action="limit"), rule(22)
    extra = rule(9090)
    anywhere_old = rules({"port": 8080, "protocol": "tcp", "comment": "nodeguard: old"})
    anywhere_new = rules({"port": 6443, "protocol": "tcp", "comment": "nodeguard: api"})
    v6_only = rules({"port": 10250, "protocol": "tcp", "from": "fd00::/64", "comment": "nodeguard: kubelet"})
    kubelet = rule(10250)
    steps = Plan(
        enable=True,
        loglevel=("low", "medium"),
        defaults={"incoming": ("allow", "deny"), "routed": ("allow", "deny")},
        delete=[extra, anywhere_old[0], anywhere_old[1]],
        replace=[(limited, allowed)],
        add=[anywhere_new[0], v6_only[0], kubelet, anywhere_new[1]],
    )
    assert change(steps).commands() == [
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
            "22",
            "comment",
            "nodeguard: test",
        ],
        ["--force", "delete", "allow", "in", "proto", "tcp", "from", "10.77.0.0/24", "to", "any", "port", "9090"],
        # One command deletes both halves of the rule from anywhere.
        ["--force", "delete", "allow", "in", "proto", "tcp", "from", "any", "to", "any", "port", "8080"],
        ["allow", "in", "proto", "tcp", "from", "any", "to", "any", "port", "6443", "comment", "nodeguard: api"],
        [
            "allow",
            "in",
            "proto",
            "tcp",
            "from",
            "fd00::/64",
            "to",
            "any",
            "port",
            "10250",
            "comment",
            "nodeguard: kubelet",
        ],
        kubelet.command(),
        ["default", "deny", "incoming"],
        ["default", "deny", "routed"],
        ["logging", "medium"],
        ["--force", "enable"],
    ]


def test_commands_of_a_real_plan_delete_and_add_twins_once():
    wanted = [
        rule(22),
        *rules({"port": 6443, "protocol": "tcp", "comment": "nodeguard: api"}),
        rule(10257),
        *rules({"port": 10250, "protocol": "tcp", "from": "fd00::/64", "comment": "nodeguard: kubelet"}),
    ]
    s, t4, t6, v4, u6 = wanted
    present = firewall([s, t4, v4, u6, t6], enabled=True)
    steps = planning.plan(present, wanted, {}, None, PREFIX)
    assert change(steps, present).commands() == [
        ["--force", *t4.delete_command()],
        ["--force", *v4.delete_command()],
        ["--force", *u6.delete_command()],
        t4.command(),
        v4.command(),
        u6.command(),
    ]


@pytest.mark.parametrize(
    ("enabled", "steps", "last"),
    [
        # Only settings changed on an enabled ufw: it reads them again.
        (True, Plan(), ["reload"]),
        # The log level alone is applied to the logging chains, the settings need the reload.
        (True, Plan(loglevel=("low", "high")), ["reload"]),
        # A default policy change restarts ufw, which reads the settings too.
        (True, Plan(defaults={"incoming": ("allow", "deny")}), ["default", "deny", "incoming"]),
        # Enabling loads everything.
        (False, Plan(enable=True), ["--force", "enable"]),
    ],
)
def test_a_settings_change_is_loaded_once(enabled, steps, last):
    settings = [c.difference("IPT_SYSCTL", ufw_state.DEFAULTS, "/etc/ufw/k8s.conf", "/etc/ufw/sysctl.conf")]
    commands = change(steps, firewall(enabled=enabled), settings).commands()
    assert commands[-1] == last
    assert commands.count(["reload"]) == (1 if last == ["reload"] else 0)


def test_no_reload_without_settings_or_while_ufw_is_disabled():
    settings = [c.difference("IPV6", ufw_state.DEFAULTS, "yes", "no")]
    assert change(Plan(loglevel=("low", "high")), firewall(enabled=True)).commands() == [["logging", "high"]]
    assert change(Plan(), firewall(enabled=False), settings).commands() == []


def test_settings_changed_with_rules_on_an_enabled_ufw_are_loaded():
    settings = [c.difference("IPT_SYSCTL", ufw_state.DEFAULTS, "/etc/ufw/k8s.conf", "/etc/ufw/sysctl.conf")]
    commands = change(Plan(add=[rule(22)]), firewall(enabled=True), settings).commands()
    assert commands[-1] == ["reload"]


def test_deleting_one_half_of_a_rule_from_anywhere_keeps_the_other():
    # What ufw wrote for `ufw allow proto tcp from any to any port 22 comment 'nodeguard: ssh'`.
    line = "### tuple ### allow tcp 22 {any} any {any} in comment=6e6f6465677561726420737368\n"
    ssh4 = parse_rules_file(line.format(any="0.0.0.0/0"), v6=False)[0]
    ssh6 = parse_rules_file(line.format(any="::/0"), v6=True)[0]
    present = firewall([ssh4, ssh6], enabled=True)
    # The IPv4 rule alone is wanted: what from_spec makes of {port: 22, protocol: tcp, from: 0.0.0.0/0}.
    steps = planning.plan(present, [ssh4], {}, None, PREFIX)
    assert steps.delete == [ssh6]
    assert ssh4 in apply.final_rules(present, steps)

    def both_versions(args):
        return args[args.index("from") + 1] == args[args.index("to") + 1] == "any"

    assert not any(both_versions(args) for args in change(steps, present).commands() if "delete" in args)


# In words, and as a diff.


def test_what_and_diff_say_the_change():
    present = firewall([rule(22, action="limit"), rule(9090)], enabled=False)
    steps = planning.plan(present, [rule(22), rule(10250)], {"routed": "allow"}, "medium", PREFIX)
    settings = [c.difference("IPV6", ufw_state.DEFAULTS, "yes", "no")]
    made = change(steps, present, settings, enable_service=True)
    assert made.needed
    assert made.what() == (
        "make ufw's policy the wanted one: set IPV6=yes; ufw is not enabled; logging is 'low', expected 'medium'; "
        "default routed policy is 'deny', expected 'allow'; "
        f"extra rule: {rule(9090).describe()}; "
        f"changed rule: {rule(22, action='limit').describe()}, expected {rule(22).describe()}; "
        f"missing rule: {rule(10250).describe()}; enable ufw.service at boot"
    )
    assert made.diff() == {
        "before_header": "ufw",
        "after_header": "ufw (wanted)",
        "before": "enabled: no\nlogging: low\ndefault incoming: deny\ndefault outgoing: allow\ndefault routed: deny\n"
        f"{rule(22, action='limit').describe()}\n{rule(9090).describe()}\n",
        "after": "enabled: yes\nlogging: medium\ndefault incoming: deny\ndefault outgoing: allow\n"
        f"default routed: allow\n{rule(22).describe()}\n{rule(10250).describe()}\n",
    }


def test_describe_state_marks_ipv6_rules():
    both = rules({"port": 6443, "protocol": "tcp"})
    assert apply.describe_state(True, "off", {"routed": "deny", "incoming": "deny"}, both) == (
        "enabled: yes\nlogging: off\ndefault incoming: deny\ndefault routed: deny\n"
        "allow in proto tcp from any to any port 6443\n(v6) allow in proto tcp from any to any port 6443 (IPv6)\n"
    )


@pytest.mark.parametrize(
    ("steps", "settings", "service", "needed"),
    [
        (Plan(), [], False, False),
        (Plan(add=[rule(22)]), [], False, True),
        (Plan(), [c.difference("IPV6", ufw_state.DEFAULTS, "yes", "no")], False, True),
        (Plan(), [], True, True),
        (Plan(loglevel=("low", "off")), [], False, True),
    ],
)
def test_a_change_is_needed_when_anything_differs(steps, settings, service, needed):
    assert change(steps, settings=settings, enable_service=service).needed is needed


# Running it on a node, and the way back.


class Ufw:
    """A fake ufw: records its arguments; a command containing C(fail) fails."""

    def __init__(self):
        self.calls = []
        self.fail = None

    def __call__(self, argv):
        self.calls.append(argv[1:])
        if self.fail and self.fail in " ".join(argv):
            return 1, "", "ERROR: Could not update running firewall"
        return 0, "Rule added\n", ""


@pytest.fixture
def host(tmp_path):
    tree = Tree(tmp_path)
    tree.write(ufw_state.CONF, CONF.format(enabled="yes"))
    tree.write(ufw_state.DEFAULTS, DEFAULTS)
    tree.write(ufw_state.RULES4, RULES4, 0o640)
    module = FakeModule()
    systemd = FakeSystemd()
    systemd.register(module)
    ufw = Ufw()
    module.commands["ufw"] = ufw
    # The restore script runs for real, with a stand-in for ufw that logs what it is asked.
    log = tmp_path / "ufw.log"
    stub = tmp_path / "bin" / "ufw"
    stub.parent.mkdir()
    stub.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    stub.chmod(0o755)
    scripts = []

    def shell(argv):
        scripts.append(argv)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    module.commands["sh"] = shell
    node = Node(module, tree.paths)
    texts = {path: node.read(path) for path in apply.FILES}
    return SimpleNamespace(
        tree=tree, module=module, systemd=systemd, ufw=ufw, node=node, texts=texts, stub=str(stub), log=log, sh=scripts
    )


def test_run_arms_the_way_back_then_writes_the_settings_then_runs_ufw(host):
    present = ufw_state.read(host.texts)
    steps = planning.plan(present, [rule(22)], {}, None, PREFIX)
    settings = apply.settings_differences(host.texts[ufw_state.DEFAULTS], {"MANAGE_BUILTINS": "yes"})
    made = change(steps, present, settings, enable_service=True, node=host.node, texts=host.texts, tool=host.stub)
    made.run()
    assert host.module.names() == [
        "systemctl reset-failed",
        "systemd-run --unit=nodeguard-ufw-rollback",
        "atomic_move",
        "ufw allow",
        "ufw reload",
        "systemctl enable",
    ]
    # The new MANAGE_BUILTINS is read when ufw restarts: adding a rule does not restart it.
    assert host.ufw.calls == [rule(22).command(), ["reload"]]
    assert host.module.calls[-1] == ["/usr/sbin/systemctl", "enable", "ufw.service"]
    assert host.tree.read(ufw_state.DEFAULTS) == DEFAULTS.replace(
        "#MANAGE_BUILTINS=yes\nMANAGE_BUILTINS=no\n", "#MANAGE_BUILTINS=yes\nMANAGE_BUILTINS=yes\n"
    )
    assert made.armed == [True]
    # The saved files are the ones before the change; ufw was enabled, so the way back reloads it.
    assert _rollback.read_manifest(host.node, rollback.KIND) == [
        (ufw_state.DEFAULTS, f"{rollback.STATE_DIR}/saved/0"),
        ("/etc/ufw/before.rules", None),
        (ufw_state.CONF, f"{rollback.STATE_DIR}/saved/2"),
        (ufw_state.RULES4, f"{rollback.STATE_DIR}/saved/3"),
        (ufw_state.RULES6, None),
    ]
    assert host.tree.read(f"{rollback.STATE_DIR}/saved/0") == DEFAULTS
    assert f"{host.stub} reload\n" in host.tree.read(f"{rollback.STATE_DIR}/restore.sh")
    assert host.systemd.units[rollback.KIND.timer] is True


def test_a_failing_command_puts_the_files_back_and_disarms(host):
    present = ufw_state.read(host.texts)
    steps = planning.plan(present, [rule(22), rule(10250)], {"incoming": "reject"}, None, PREFIX)
    settings = apply.settings_differences(host.texts[ufw_state.DEFAULTS], {"IPV6": "no"})
    made = change(steps, present, settings, node=host.node, texts=host.texts, tool=host.stub)
    host.ufw.fail = "10250"
    with pytest.raises(CommandError) as error:
        made.run()
    assert str(error.value) == (
        f"{host.stub} {' '.join(rule(10250).command())} failed with status 1: ERROR: Could not update running "
        "firewall; ufw's previous files are back and ufw was reloaded"
    )
    # The default policy never ran; the restore script did, through /bin/sh.
    assert host.ufw.calls == [rule(22).command(), rule(10250).command()]
    script = host.tree.file(f"{rollback.STATE_DIR}/restore.sh")
    assert host.sh == [["/bin/sh", str(script)]]
    assert host.tree.read(ufw_state.DEFAULTS) == DEFAULTS
    assert host.log.read_text() == "reload\n"
    # Disarmed: the timer is stopped and the saved state is gone.
    assert host.module.calls[-1] == ["/usr/sbin/systemctl", "stop", "nodeguard-ufw-rollback.timer"]
    assert host.systemd.units[rollback.KIND.timer] is False
    assert not host.tree.file(rollback.STATE_DIR).exists()
    assert made.armed == []


def test_undo_disarms_even_when_the_restore_script_fails(host):
    made = change(Plan(add=[rule(22)]), node=host.node, texts=host.texts, tool=host.stub)
    made.run()
    host.module.commands["sh"] = lambda argv: (2, "", "sh: cannot open restore.sh")
    with pytest.raises(CommandError, match=r"cannot open restore\.sh"):
        made.undo()
    assert not host.tree.file(rollback.STATE_DIR).exists()
    assert made.armed == []


def test_a_change_awaiting_confirmation_blocks_the_next_before_any_command(host):
    first = change(Plan(add=[rule(22)]), node=host.node, texts=host.texts, tool=host.stub)
    first.run()
    second = change(Plan(add=[rule(10250)]), node=host.node, texts=host.texts, tool=host.stub)
    with pytest.raises(c.ControlInputError, match="a previous ufw change awaits confirmation"):
        second.run()
    assert host.ufw.calls == [rule(22).command()]
    assert second.armed == []


def test_the_action_runs_and_undoes_the_change(host):
    made = change(Plan(add=[rule(22)]), firewall(enabled=True), node=host.node, texts=host.texts, tool=host.stub)
    action = made.action()
    assert action.key == "ufw:policy"
    assert action.what == f"make ufw's policy the wanted one: missing rule: {rule(22).describe()}"
    assert action.diff == [made.diff()]
    action.run()
    assert host.tree.file(rollback.STATE_DIR).exists()
    action.undo()
    assert host.log.read_text() == "reload\n"
    assert not host.tree.file(rollback.STATE_DIR).exists()


@pytest.mark.parametrize(
    ("rc", "out", "enabled"),
    [
        (0, "enabled\n", True),
        (0, "static\n", True),
        (0, "enabled-runtime\n", True),
        (1, "disabled\n", False),
        (0, "masked\n", False),
        (4, "", False),
    ],
)
def test_service_enabled(rc, out, enabled):
    module = FakeModule()
    module.commands["systemctl"] = lambda argv: (rc, out, "")
    assert apply.service_enabled(Node(module)) is enabled
    assert module.calls == [["/usr/sbin/systemctl", "is-enabled", "ufw.service"]]


# The controller's connection.

IP_ADDR = """\
1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever
2: ens4    inet 10.0.2.15/24 metric 100 brd 10.0.2.255 scope global dynamic ens4\\       valid_lft 86000sec
2: ens4    inet6 fd00::15/64 scope global dynamic mngtmpaddr noprefixroute \\       valid_lft 86000sec
2: ens4    inet6 fe80::5054:ff:fe12:3456/64 scope link \\       valid_lft forever preferred_lft forever
3: ens5@if3    inet 10.77.0.11/24 brd 10.77.0.255 scope global ens5\\       valid_lft forever preferred_lft forever
4: cali1a2b3c4d5e6@if4    inet6 fe80::ecee:eeff:feee:eeee/64 scope link \\       valid_lft forever
"""


def ip_node(out=IP_ADDR, rc=0, ip="/usr/sbin/ip"):
    module = FakeModule()
    module.bins["ip"] = ip
    module.commands["ip"] = lambda argv: (rc, out, "")
    return Node(module)


@pytest.mark.parametrize(
    ("address", "interface"),
    [
        ("10.0.2.15", "ens4"),
        ("fd00::15", "ens4"),
        ("fe80::5054:ff:fe12:3456", "ens4"),
        ("10.77.0.11", "ens5"),
        ("fe80::ecee:eeff:feee:eeee", "cali1a2b3c4d5e6"),
        ("::1", "lo"),
        ("127.0.0.1", "lo"),
        # Only a whole address counts.
        ("10.0.2.1", ""),
        ("10.0.2.150", ""),
        ("192.0.2.1", ""),
    ],
)
def test_interface_of(address, interface):
    node = ip_node()
    assert apply.interface_of(node, address) == interface
    assert node.module.calls == [["/usr/sbin/ip", "-o", "addr", "show"]]


def test_interface_of_without_ip_or_when_it_fails_is_unknown():
    assert apply.interface_of(ip_node(ip=None), "10.0.2.15") == ""
    assert apply.interface_of(ip_node(rc=1), "10.0.2.15") == ""
    assert apply.interface_of(ip_node(out="garbage\n"), "10.0.2.15") == ""


def session(client="10.0.2.2", local="10.0.2.15", port=2222):
    return Session(
        pid=900,
        program="sshd-session",
        user="ansible",
        tty="notty",
        monitor_pid=800,
        local_address=local,
        local_port=port,
        client_address=client,
        client_port=51514,
        source="socket",
    )


def test_controller_connection_from_the_modules_session(monkeypatch):
    monkeypatch.setattr(apply, "find_session", lambda node: session())
    assert apply.controller_connection(ip_node()) == Connection(
        client="10.0.2.2", server="10.0.2.15", port=2222, interface="ens4"
    )
    monkeypatch.setattr(apply, "find_session", lambda node: session("fd00::2", "fd00::15", 22))
    assert apply.controller_connection(ip_node()) == Connection(
        client="fd00::2", server="fd00::15", port=22, interface="ens4"
    )


@pytest.mark.parametrize(
    ("found", "message"),
    [
        (None, "refused, nothing was changed: cannot find the SSH connection this module runs under"),
        (session(client=None), "cannot find the SSH connection"),
        (session(local=None), "cannot find the SSH connection"),
        (session(port=None), "when Ansible runs on the node itself, set connection local"),
        (session(client="controller.example"), "the SSH client address 'controller.example' is not an IP address"),
    ],
)
def test_controller_connection_refuses_what_it_cannot_tell(monkeypatch, found, message):
    monkeypatch.setattr(apply, "find_session", lambda node: found)
    with pytest.raises(c.ControlInputError, match=message):
        apply.controller_connection(ip_node())


def test_the_files_saved_are_ufws_four_and_before_rules():
    assert apply.FILES == (
        "/etc/ufw/ufw.conf",
        "/etc/default/ufw",
        "/etc/ufw/user.rules",
        "/etc/ufw/user6.rules",
        "/etc/ufw/before.rules",
    )


def test_a_missing_rule_is_inserted_by_number_before_the_rule_it_precedes():
    kubelet, nodes = rule(10250, **{"from": "10.77.0.0/24"}), rule(6443, **{"from": "10.77.0.0/24"})
    ssh4, ssh6 = rules({"port": 22, "protocol": "tcp", "comment": f"{PREFIX}: ssh"})
    present = firewall([ssh4, kubelet, ssh6])
    steps = planning.plan(present, [ssh4, ssh6, nodes, kubelet], {}, None, PREFIX)
    assert change(steps, present).commands() == [["insert", "2", *nodes.command()], ["--force", "enable"]]


def test_an_ipv6_half_is_inserted_after_the_ipv4_numbers_on_its_own():
    api4, api6 = rules({"port": 6443, "protocol": "tcp", "comment": f"{PREFIX}: api"})
    kube4, kube6 = rules({"port": 10250, "protocol": "tcp", "comment": f"{PREFIX}: kubelet"})
    present = firewall([api4, kube4, kube6])
    steps = planning.plan(present, [api4, api6, kube4, kube6], {}, None, PREFIX)
    # Two IPv4 rules, so the first IPv6 position is 3; ::/0 keeps ufw from adding an IPv4 copy.
    assert change(steps, present).commands()[0] == ["insert", "3", *api6.command(one_version=True)]
    assert "::/0" in api6.command(one_version=True)


def test_a_missing_route_rule_is_inserted_with_route_insert():
    drop = rules({"route": True, "action": "deny", "from": "10.244.0.0/16", "to": "169.254.169.254"})[0]
    pods = rules({"route": True, "from": "10.244.0.0/16", "comment": f"{PREFIX}: pods"})[0]
    present = firewall([pods])
    steps = planning.plan(present, [drop, pods], {}, None, PREFIX)
    assert change(steps, present).commands()[0] == ["route", "insert", "1", *drop.command()[1:]]
