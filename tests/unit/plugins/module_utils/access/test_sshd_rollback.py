# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node's own rollback: arming it, the restore script (run for real), confirming it."""

from __future__ import annotations

import os
import stat
import subprocess
from types import SimpleNamespace

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError

from .sshd_fakes import FakeModule, FakeSystemd, Tree

DROP_IN = "/etc/ssh/sshd_config.d/00-nodeguard-hardening.conf"
MAIN = "/etc/ssh/sshd_config"


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path)


def setup(tree, systemd=None):
    module = FakeModule()
    systemd = systemd or FakeSystemd()
    systemd.register(module)
    return SimpleNamespace(module=module, systemd=systemd, node=tree.node(module))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_arm_saves_the_files_and_starts_a_timer(tree):
    fake = setup(tree)
    old_main = tree.read(MAIN)
    command = rollback.arm(fake.node, {DROP_IN: None, MAIN: old_main}, 90)
    state_dir = tree.file(rollback.STATE_DIR)
    assert mode(state_dir) == 0o700
    assert tree.read(f"{rollback.STATE_DIR}/manifest") == (
        f"present\t{MAIN}\t{rollback.STATE_DIR}/saved/0\nabsent\t{DROP_IN}\n"
    )
    assert tree.read(f"{rollback.STATE_DIR}/saved/0") == old_main
    assert mode(tree.file(f"{rollback.STATE_DIR}/saved/0")) == 0o600
    assert mode(tree.file(f"{rollback.STATE_DIR}/restore.sh")) == 0o700
    assert command == fake.systemd.timers[0]
    assert command == [
        "/usr/sbin/systemd-run",
        "--unit=nodeguard-sshd-rollback",
        "--on-active=90",
        "--timer-property=AccuracySec=1s",
        "--description=nodeguard.hardening: put the previous sshd configuration back unless confirmed",
        "/bin/sh",
        str(tree.file(f"{rollback.STATE_DIR}/restore.sh")),
    ]
    # Leftover units of an earlier rollback are cleared first.
    assert fake.module.calls[0][1:] == ["reset-failed", rollback.TIMER, rollback.SERVICE]
    script = tree.read(f"{rollback.STATE_DIR}/restore.sh")
    # systemd expands $VARIABLES in a transient unit's command line: the script has none.
    assert "$" not in script and "%" not in script
    assert f"rm -f -- {tree.file(DROP_IN)}" in script
    assert "reload-or-restart ssh.service" in script
    state = rollback.state(fake.node)
    assert (state.armed, state.pending, state.rolled_back) == (True, True, None)
    assert state.files == [MAIN, DROP_IN]
    assert state.describe() == (
        "a previous sshd change awaits confirmation (nodeguard-sshd-rollback.timer restores it unless confirmed)"
    )


def test_arm_refuses_while_an_earlier_change_awaits_confirmation(tree):
    fake = setup(tree)
    rollback.arm(fake.node, {DROP_IN: None})
    with pytest.raises(ControlInputError, match="awaits confirmation"):
        rollback.arm(fake.node, {DROP_IN: "x\n"})
    assert len(fake.systemd.timers) == 1


def test_a_failed_systemd_run_leaves_nothing_behind(tree):
    fake = setup(tree, FakeSystemd(fail={"systemd-run": "Failed to start transient timer unit"}))
    with pytest.raises(Exception, match="Failed to start transient timer unit"):
        rollback.arm(fake.node, {DROP_IN: None})
    assert not tree.file(rollback.STATE_DIR).exists()


def test_the_restore_script_puts_every_file_back_and_reloads(tree, tmp_path):
    log = tmp_path / "systemctl.log"
    stub = tmp_path / "systemctl"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    stub.chmod(0o755)
    fake = setup(tree)
    fake.module.bins["systemctl"] = str(stub)
    old_main = tree.read(MAIN)
    rollback.arm(fake.node, {DROP_IN: None, MAIN: old_main})
    # The change that was never confirmed.
    tree.write(DROP_IN, "PermitRootLogin no\n", 0o600)
    tree.write(MAIN, "# PermitRootLogin yes  # commented out\n", 0o644)
    subprocess.run(["/bin/sh", str(tree.file(f"{rollback.STATE_DIR}/restore.sh"))], check=True)
    assert not tree.file(DROP_IN).exists()
    assert tree.read(MAIN) == old_main
    assert mode(tree.file(MAIN)) == 0o600
    assert sorted(os.listdir(tree.file("/etc/ssh"))) == ["sshd_config", "sshd_config.d"]
    assert log.read_text() == "reload-or-restart ssh.service\n"
    state = rollback.state(fake.node)
    assert state.rolled_back is not None and not state.pending
    assert "the node put back" in state.describe()


def test_without_ssh_service_the_script_reloads_nothing(tree):
    fake = setup(tree)
    script = rollback.script(fake.node, {DROP_IN: None}, service_running=False)
    commands = [line for line in script.splitlines() if not line.startswith("#")]
    assert not any("systemctl" in line for line in commands)
    assert "# ssh.service did not run when the change was made: nothing to reload" in script


@pytest.mark.parametrize(
    ("prepare", "expected_state", "changed"),
    [
        ("armed", "confirmed", True),
        ("nothing", "none", False),
        ("rolled-back", "rolled-back", False),
    ],
)
def test_confirm(tree, prepare, expected_state, changed):
    fake = setup(tree)
    if prepare != "nothing":
        rollback.arm(fake.node, {DROP_IN: None})
    if prepare == "rolled-back":
        tree.write(f"{rollback.STATE_DIR}/{rollback.ROLLED_BACK}", "")
    result = rollback.confirm(fake.node)
    assert (result["state"], result["changed"]) == (expected_state, changed)
    assert ["/usr/sbin/systemctl", "stop", rollback.TIMER] in fake.module.calls
    assert fake.systemd.units.get(rollback.TIMER) in (None, False)
    if prepare == "armed":
        assert not tree.file(rollback.STATE_DIR).exists()
        assert rollback.state(fake.node) == rollback.RollbackState()
    if prepare == "rolled-back":
        assert result["failed"] is True
        assert "too late" in result["msg"]


def test_state_after_a_reboot_dropped_the_timer(tree):
    fake = setup(tree)
    rollback.arm(fake.node, {DROP_IN: None})
    fake.systemd.units[rollback.TIMER] = False
    state = rollback.state(fake.node)
    assert (state.armed, state.pending) == (True, False)
    assert "its timer is gone" in state.describe()
    # A stale state does not block the next change.
    rollback.arm(fake.node, {DROP_IN: "x\n"})


@pytest.mark.parametrize("timeout", [0, 29, 3601, "120", True, None])
def test_check_timeout(timeout):
    with pytest.raises(ControlInputError, match="rollback timeout"):
        rollback.check_timeout(timeout)


def test_check_timeout_accepts_the_default():
    assert rollback.check_timeout(rollback.DEFAULT_TIMEOUT) == 120
