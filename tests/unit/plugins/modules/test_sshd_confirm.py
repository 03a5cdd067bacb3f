# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sshd_confirm through AnsibleModule: confirm, nothing to confirm, too late; check mode changes nothing."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.module_utils import _rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.modules import sshd_confirm

from ..module_utils.access.sshd_fakes import FakeModule, FakeSystemd, Tree

DROP_IN = "/etc/ssh/sshd_config.d/00-nodeguard-hardening.conf"


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


@pytest.fixture
def fake(tree, monkeypatch):
    module = FakeModule()
    FakeSystemd().register(module)
    monkeypatch.setattr(_rollback, "Node", lambda real: Node(real, tree.paths))
    monkeypatch.setattr(sshd_confirm.AnsibleModule, "run_command", lambda self, args, **kw: module.run_command(args))
    monkeypatch.setattr(sshd_confirm.AnsibleModule, "get_bin_path", lambda self, name, **kw: f"/usr/sbin/{name}")
    return module


def arm(tree, fake):
    """What access_baseline leaves after an sshd change: saved files and a running timer."""
    rollback.arm(Node(fake, tree.paths), {DROP_IN: None}, 120)
    fake.calls.clear()


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        sshd_confirm.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_confirm_stops_the_timer_and_drops_the_saved_files(tree, fake, capsys):
    arm(tree, fake)
    rc, out = run_main({}, capsys)
    assert rc == 0, out
    assert (out["changed"], out["state"], out["files"]) == (True, "confirmed", [DROP_IN])
    assert ["/usr/sbin/systemctl", "stop", rollback.TIMER] in fake.calls
    assert not tree.file(rollback.STATE_DIR).exists()


def test_check_mode_says_it_would_confirm_and_changes_nothing(tree, fake, capsys):
    arm(tree, fake)
    before = tree.snapshot()
    rc, out = run_main({"_ansible_check_mode": True}, capsys)
    assert rc == 0, out
    assert (out["changed"], out["state"]) == (True, "confirmed")
    assert out["msg"].startswith("would confirm")
    assert tree.snapshot() == before
    assert not [call for call in fake.calls if call[1] != "is-active"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_nothing_to_confirm(tree, fake, capsys, check_mode):
    rc, out = run_main({"_ansible_check_mode": check_mode}, capsys)
    assert rc == 0, out
    assert (out["changed"], out["state"], out["files"]) == (False, "none", [])


@pytest.mark.parametrize("check_mode", [False, True])
def test_too_late_fails_naming_what_the_node_put_back(tree, fake, capsys, check_mode):
    arm(tree, fake)
    tree.write(f"{rollback.STATE_DIR}/{rollback.ROLLED_BACK}", "")
    rc, out = run_main({"_ansible_check_mode": check_mode}, capsys)
    assert rc == 1
    assert out["state"] == "rolled-back"
    assert out["changed"] is False
    assert "too late" in out["msg"] and DROP_IN in out["msg"]


def test_it_takes_no_options(tree, fake, capsys):
    rc, out = run_main({"timeout": 5}, capsys)
    assert rc == 1
    assert "timeout" in out["msg"]
