# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""access_baseline through AnsibleModule on a fake node: arguments, the order of the families
(a lockout refused before any change), check mode, the rollback it leaves armed."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.module_utils._access import families
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import family as sshd_family
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.modules import access_baseline

from ..module_utils.access.sshd_fakes import FakeModule, FakeSshd, FakeSystemd, Tree

DROP_IN = sshd_family.DROP_IN
PROFILE = "/etc/profile.d/60-nodeguard-hardening.sh"
LOGIN_DEFS = "PASS_MAX_DAYS\t99999\nUID_MIN\t1000\n"


def control(cid, family, spec):
    return {"id": cid, "title": f"title of {cid}", "family": family, "spec": spec}


ROOT_LOGIN = control("cis.sshd.permit_root_login", "sshd", {"settings": {"PermitRootLogin": False}})
AUTH_TRIES = control("cis.sshd.max_auth_tries", "sshd", {"settings": {"MaxAuthTries": 4}})
UMASK = control("cis.shell.umask", "managed_file", {"path": PROFILE, "mode": "0644", "lines": ["umask 027"]})
MAX_DAYS = control("cis.login_defs.pass_max_days", "login_defs", {"settings": {"PASS_MAX_DAYS": 365}})
UID0 = control("cis.accounts.uid0_only_root", "accounts", {"check": "uid0_only_root"})
NOLOGIN = control(
    "cis.accounts.system_accounts_nologin",
    "accounts",
    {"check": "system_accounts_nologin", "shell": "/usr/sbin/nologin"},
)
ALL = [ROOT_LOGIN, AUTH_TRIES, UMASK, MAX_DAYS, UID0]
AS_ANSIBLE = {"user": "ansible", "port": 22}


class Fakes:
    """The node's commands (sshd, systemctl, systemd-run) behind the real AnsibleModule."""

    def __init__(self, tree):
        self.tree = tree
        self.module = FakeModule()
        self.sshd = FakeSshd(tree)
        self.module.commands["sshd"] = self.sshd
        self.systemd = FakeSystemd()
        self.systemd.register(self.module)

    def programs(self):
        return self.module.names()


@pytest.fixture
def tree(tmp_path):
    tree = Tree(tmp_path)
    tree.write("/etc/login.defs", LOGIN_DEFS)
    return tree


@pytest.fixture
def fakes(tree, monkeypatch):
    fakes = Fakes(tree)
    monkeypatch.setattr(access_baseline, "Node", lambda module: Node(module, tree.paths))
    monkeypatch.setattr(
        access_baseline.AnsibleModule, "run_command", lambda self, args, **kw: fakes.module.run_command(args)
    )
    monkeypatch.setattr(access_baseline.AnsibleModule, "get_bin_path", lambda self, name, **kw: f"/usr/sbin/{name}")

    def move(self, src, dest):
        fakes.module.calls.append(["atomic_move", dest])
        os.rename(src, dest)

    monkeypatch.setattr(access_baseline.AnsibleModule, "atomic_move", move)
    # sshd is given a moment after a reload before it is asked whether it still runs.
    monkeypatch.setattr(sshd_family.time, "sleep", lambda seconds: None)
    return fakes


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        access_baseline.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def statuses(out):
    return [(r["id"], r["status"]) for r in out["controls"]]


def test_the_documented_family_choices_are_the_families_in_their_order():
    documented = yaml.safe_load(access_baseline.DOCUMENTATION)["options"]["controls"]["suboptions"]["family"]
    assert documented["choices"] == families.NAMES
    assert families.NAMES == [
        "sshd",
        "packages",
        "managed_file",
        "file_attributes",
        "login_defs",
        "accounts",
        "sudoers",
        "pam",
        "su_wheel",
    ]
    assert access_baseline.argument_spec()["controls"]["options"]["family"]["choices"] == families.NAMES


def test_harden_applies_every_family_and_leaves_the_sshd_change_to_confirm(tree, fakes, capsys):
    rc, out = run_main({"controls": ALL, "connection": AS_ANSIBLE, "protect": ["ansible"]}, capsys)
    assert rc == 0, out
    assert statuses(out) == [
        ("cis.sshd.permit_root_login", "fixed"),
        ("cis.sshd.max_auth_tries", "fixed"),
        ("cis.shell.umask", "fixed"),
        ("cis.login_defs.pass_max_days", "fixed"),
        ("cis.accounts.uid0_only_root", "pass"),
    ]
    assert out["changed"] is True
    assert out["sshd_rollback_armed"] is True
    assert "PermitRootLogin no\n" in tree.read(DROP_IN) and "MaxAuthTries 4\n" in tree.read(DROP_IN)
    assert "umask 027\n" in tree.read(PROFILE)
    assert "PASS_MAX_DAYS\t365\n" in tree.read("/etc/login.defs")
    programs = fakes.programs()
    # The rollback is armed before the drop-in is installed and sshd reloaded; the other families after.
    assert programs.index("systemd-run --unit=nodeguard-sshd-rollback") < programs.index("systemctl reload")
    moves = [call[1] for call in fakes.module.calls if call[0] == "atomic_move"]
    assert moves == [str(tree.file(DROP_IN)), str(tree.file(PROFILE)), str(tree.file("/etc/login.defs"))]
    assert [timer for timer in fakes.systemd.timers if "--on-active=120" in timer]


def test_the_rollback_timeout_reaches_the_timer(tree, fakes, capsys):
    rc, out = run_main({"controls": [AUTH_TRIES], "connection": AS_ANSIBLE, "rollback_timeout": 300}, capsys)
    assert rc == 0, out
    assert "--on-active=300" in fakes.systemd.timers[0]


def test_check_mode_predicts_and_touches_nothing(tree, fakes, capsys):
    before = tree.snapshot()
    rc, out = run_main({"controls": ALL, "connection": AS_ANSIBLE, "_ansible_check_mode": True}, capsys)
    assert rc == 0, out
    assert [status for _cid, status in statuses(out)] == ["drift", "drift", "drift", "drift", "pass"]
    assert out["sshd_rollback_armed"] is False
    assert tree.snapshot() == before
    assert fakes.systemd.timers == []
    assert not [name for name in fakes.programs() if name in ("systemctl reload", "atomic_move")]


def test_a_lockout_is_refused_before_any_family_changes_anything(tree, fakes, capsys):
    before = tree.snapshot()
    rc, out = run_main({"controls": ALL, "connection": {"user": "root", "port": 22}}, capsys)
    assert rc == 1
    assert out["changed"] is False
    assert "would lock out the account Ansible connects with, so nothing was changed" in out["msg"]
    assert "root on port 22" in out["msg"]
    assert tree.snapshot() == before
    assert fakes.systemd.timers == []
    assert "atomic_move" not in fakes.programs()


def test_the_same_controls_pass_without_the_lockout(tree, fakes, capsys):
    rc, out = run_main({"controls": [AUTH_TRIES, UMASK], "connection": {"user": "root", "port": 22}}, capsys)
    assert rc == 0, out
    assert statuses(out) == [("cis.sshd.max_auth_tries", "fixed"), ("cis.shell.umask", "fixed")]


def test_a_second_run_after_confirmation_changes_nothing(tree, fakes, capsys):
    run_main({"controls": ALL, "connection": AS_ANSIBLE}, capsys)
    rollback.confirm(Node(fakes.module, tree.paths))
    rc, out = run_main({"controls": ALL, "connection": AS_ANSIBLE}, capsys)
    assert rc == 0, out
    assert out["changed"] is False
    assert out["sshd_rollback_armed"] is False
    assert {status for _cid, status in statuses(out)} == {"pass"}


@pytest.mark.parametrize(("protect", "changed"), [([], True), (["deploy"], False)])
def test_protected_accounts_are_reported_and_never_changed(tree, fakes, capsys, protect, changed):
    tree.write("/etc/passwd", tree.read("/etc/passwd") + "deploy:x:998:998::/var/lib/deploy:/bin/bash\n")
    tree.write("/etc/shells", "/bin/sh\n/bin/bash\n/usr/bin/bash\n")
    args = {"controls": [NOLOGIN], "connection": AS_ANSIBLE, "protect": protect, "_ansible_check_mode": True}
    rc, out = run_main(args, capsys)
    assert rc == 0, out
    [result] = out["controls"]
    assert result["status"] == "drift"
    assert result["differences"][0]["item"] == "deploy"
    assert (out["actions"] == ["set the shell of deploy to /usr/sbin/nologin"]) is changed
    if not changed:
        assert result["details"]["protected, reported and never changed"] == ["deploy"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"rollback_timeout": 5}, "rollback timeout must be a number of seconds from 30 to 3600"),
        ({"connection": {"user": "ansible", "port": 70000}}, "connection.port 70000 is not a TCP port"),
        ({"connection": {"user": "ansible", "port": "ssh"}}, "port"),
        ({"connection": {"user": "ansible", "method": "magic"}}, "method"),
        ({"connection": {"user": "ansible", "shell": "bash"}}, "shell"),
        ({"controls": [control("cis.x", "nonsense", {})]}, "family"),
    ],
)
def test_bad_arguments_fail_before_any_change(tree, fakes, capsys, args, message):
    before = tree.snapshot()
    rc, out = run_main({"controls": [AUTH_TRIES], **args}, capsys)
    assert rc == 1
    assert message in out["msg"]
    assert tree.snapshot() == before


def test_without_ssh_session_or_connection_sshd_is_not_changed_blind(tree, fakes, capsys):
    before = tree.snapshot()
    rc, out = run_main({"controls": [AUTH_TRIES]}, capsys)
    assert rc == 1
    assert "cannot tell which account and port Ansible connects with" in out["msg"]
    assert tree.snapshot() == before
