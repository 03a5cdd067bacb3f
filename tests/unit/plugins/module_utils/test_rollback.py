# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The shared rollback with the ufw kind: arming it, the restore script (run for real), confirming
it and predicting the confirmation; the ufw lines after the files; ufw_confirm through AnsibleModule."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from types import SimpleNamespace

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nodeguard.hardening.plugins.module_utils import _rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import rollback as sshd_rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import rollback as ufw_rollback
from ansible_collections.nodeguard.hardening.plugins.modules import ufw_confirm

from .access.sshd_fakes import FakeModule, FakeSystemd, Tree

KIND = ufw_rollback.KIND
STATE_DIR = "/var/lib/nodeguard-hardening/ufw-rollback"
CONF = "/etc/ufw/ufw.conf"
RULES4 = "/etc/ufw/user.rules"
RULES6 = "/etc/ufw/user6.rules"
OLD_CONF = "ENABLED=yes\nLOGLEVEL=low\n"
OLD_RULES = "*filter\n:ufw-user-input - [0:0]\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\nCOMMIT\n"


@pytest.fixture
def tree(tmp_path):
    found = Tree(tmp_path)
    found.write(CONF, OLD_CONF, 0o644)
    found.write(RULES4, OLD_RULES, 0o640)
    return found


def setup(tree, systemd=None):
    module = FakeModule()
    systemd = systemd or FakeSystemd()
    systemd.register(module)
    return SimpleNamespace(module=module, systemd=systemd, node=tree.node(module))


def previous(tree):
    """The ufw files before a change that adds user6.rules."""
    return {CONF: tree.read(CONF), RULES4: tree.read(RULES4), RULES6: None}


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_ufw_kind():
    expected = _rollback.Kind(
        name="ufw",
        state_dir=STATE_DIR,
        unit="nodeguard-ufw-rollback",
        description="nodeguard.hardening: put the previous ufw rules and defaults back unless confirmed",
    )
    assert expected == KIND
    assert (KIND.timer, KIND.service) == ("nodeguard-ufw-rollback.timer", "nodeguard-ufw-rollback.service")


@pytest.mark.parametrize(
    ("was_enabled", "ufw", "expected"),
    [
        (True, "/usr/sbin/ufw", ["/usr/sbin/ufw reload"]),
        (False, "/usr/sbin/ufw", ["/usr/sbin/ufw --force disable"]),
        (True, "/opt/fire wall/ufw", ["'/opt/fire wall/ufw' reload"]),
        (False, "/opt/fire wall/ufw", ["'/opt/fire wall/ufw' --force disable"]),
    ],
)
def test_ufw_tail(was_enabled, ufw, expected):
    assert ufw_rollback.tail(was_enabled, ufw) == expected


def test_ufw_tail_defaults_to_debian_s_ufw():
    assert ufw_rollback.tail(True) == ["/usr/sbin/ufw reload"]


def test_arm_saves_the_files_writes_the_script_and_starts_a_timer(tree):
    fake = setup(tree)
    command = _rollback.arm(fake.node, KIND, previous(tree), 90, ufw_rollback.tail(True))
    assert mode(tree.file(STATE_DIR)) == 0o700
    # Sorted by path: ufw.conf, user.rules, user6.rules.
    assert tree.read(f"{STATE_DIR}/manifest") == (
        f"present\t{CONF}\t{STATE_DIR}/saved/0\npresent\t{RULES4}\t{STATE_DIR}/saved/1\nabsent\t{RULES6}\n"
    )
    assert _rollback.read_manifest(fake.node, KIND) == [
        (CONF, f"{STATE_DIR}/saved/0"),
        (RULES4, f"{STATE_DIR}/saved/1"),
        (RULES6, None),
    ]
    assert tree.read(f"{STATE_DIR}/saved/0") == OLD_CONF
    assert tree.read(f"{STATE_DIR}/saved/1") == OLD_RULES
    # Each copy has its file's mode, which cp -p hands back.
    assert mode(tree.file(f"{STATE_DIR}/saved/0")) == 0o644
    assert mode(tree.file(f"{STATE_DIR}/saved/1")) == 0o640
    assert mode(tree.file(f"{STATE_DIR}/manifest")) == 0o600
    assert mode(tree.file(f"{STATE_DIR}/restore.sh")) == 0o700
    saved, conf, rules4 = (tree.file(f"{STATE_DIR}/saved"), tree.file(CONF), tree.file(RULES4))
    assert tree.read(f"{STATE_DIR}/restore.sh") == (
        "#!/bin/sh\n"
        "# Written by nodeguard.hardening before it changed the ufw configuration. The transient timer\n"
        "# nodeguard-ufw-rollback.timer runs it unless the change is confirmed: it puts the previous files back "
        "and applies them.\n"
        f": > {tree.file(STATE_DIR)}/rolled-back\n"
        f"cp -p -- {saved}/0 {conf}.nodeguard-rollback && mv -f -- {conf}.nodeguard-rollback {conf}\n"
        f"cp -p -- {saved}/1 {rules4}.nodeguard-rollback && mv -f -- {rules4}.nodeguard-rollback {rules4}\n"
        f"rm -f -- {tree.file(RULES6)}\n"
        "/usr/sbin/ufw reload\n"
    )
    assert command == fake.systemd.timers[0]
    assert command == [
        "/usr/sbin/systemd-run",
        "--unit=nodeguard-ufw-rollback",
        "--on-active=90",
        "--timer-property=AccuracySec=1s",
        "--description=nodeguard.hardening: put the previous ufw rules and defaults back unless confirmed",
        "/bin/sh",
        str(tree.file(f"{STATE_DIR}/restore.sh")),
    ]
    # Leftover units of an earlier rollback are cleared first.
    assert fake.module.calls[0] == [
        "/usr/sbin/systemctl",
        "reset-failed",
        "nodeguard-ufw-rollback.timer",
        "nodeguard-ufw-rollback.service",
    ]
    found = _rollback.state(fake.node, KIND)
    assert (found.armed, found.pending, found.rolled_back) == (True, True, None)
    assert found.files == [CONF, RULES4, RULES6]
    assert found.describe() == (
        "a previous ufw change awaits confirmation (nodeguard-ufw-rollback.timer restores it unless confirmed)"
    )


def test_the_script_quotes_paths_and_keeps_the_tail_in_order(tree):
    fake = setup(tree)
    text = _rollback.script(fake.node, KIND, {"/etc/ufw/odd name.rules": None}, ["first", "second"])
    lines = text.splitlines()
    # The mark comes first: a confirmation that comes while the script runs is too late.
    assert lines[-4:] == [
        f": > {tree.file(STATE_DIR)}/rolled-back",
        f"rm -f -- '{tree.file('/etc/ufw/odd name.rules')}'",
        "first",
        "second",
    ]
    # systemd expands $VARIABLES and %specifiers in a transient unit's command line: the script has none.
    assert "$" not in text and "%" not in text


def test_arm_refuses_while_an_earlier_ufw_change_awaits_confirmation(tree):
    fake = setup(tree)
    _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(True))
    manifest = tree.read(f"{STATE_DIR}/manifest")
    with pytest.raises(ControlInputError) as error:
        _rollback.arm(fake.node, KIND, {RULES6: "x\n"}, 120, ufw_rollback.tail(True))
    assert str(error.value) == (
        "a previous ufw change awaits confirmation (nodeguard-ufw-rollback.timer restores it unless confirmed): "
        "confirm it (reconnect, then run the confirm step) or wait for the timer, then run again. Nothing was changed"
    )
    assert len(fake.systemd.timers) == 1
    assert tree.read(f"{STATE_DIR}/manifest") == manifest


def test_a_pending_sshd_change_does_not_block_a_ufw_change(tree):
    fake = setup(tree)
    sshd_rollback.arm(fake.node, {"/etc/ssh/sshd_config.d/00-nodeguard-hardening.conf": None})
    _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(True))
    assert [argv[1] for argv in fake.systemd.timers] == [
        "--unit=nodeguard-sshd-rollback",
        "--unit=nodeguard-ufw-rollback",
    ]
    result = _rollback.confirm(fake.node, KIND)
    assert result["state"] == "confirmed"
    # Confirming ufw leaves the sshd change awaiting its own confirmation.
    assert sshd_rollback.state(fake.node).pending
    assert fake.systemd.units["nodeguard-sshd-rollback.timer"] is True
    assert not tree.file(STATE_DIR).exists()
    assert tree.file(sshd_rollback.STATE_DIR).exists()


def test_a_failed_systemd_run_leaves_nothing_behind(tree):
    fake = setup(tree, FakeSystemd(fail={"systemd-run": "Failed to start transient timer unit"}))
    with pytest.raises(Exception, match="Failed to start transient timer unit"):
        _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(True))
    assert not tree.file(STATE_DIR).exists()


@pytest.mark.parametrize(("was_enabled", "expected_log"), [(True, "reload\n"), (False, "--force disable\n")])
def test_the_restore_script_puts_every_file_back_then_runs_ufw(tree, tmp_path, was_enabled, expected_log):
    log = tmp_path / "ufw.log"
    stub = tmp_path / "ufw"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    stub.chmod(0o755)
    fake = setup(tree)
    _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(was_enabled, str(stub)))
    # The change that was never confirmed.
    tree.write(CONF, "ENABLED=yes\nLOGLEVEL=high\n", 0o600)
    tree.write(RULES4, "*filter\nCOMMIT\n", 0o644)
    tree.write(RULES6, "*filter\nCOMMIT\n", 0o644)
    subprocess.run(["/bin/sh", str(tree.file(f"{STATE_DIR}/restore.sh"))], check=True)
    assert tree.read(CONF) == OLD_CONF
    assert tree.read(RULES4) == OLD_RULES
    assert (mode(tree.file(CONF)), mode(tree.file(RULES4))) == (0o644, 0o640)
    assert not tree.file(RULES6).exists()
    assert sorted(os.listdir(tree.file("/etc/ufw"))) == ["ufw.conf", "user.rules"]
    assert log.read_text() == expected_log
    found = _rollback.state(fake.node, KIND)
    assert found.rolled_back is not None and not found.pending
    assert found.describe() == (
        f"a previous ufw change was never confirmed: the node put back {CONF}, {RULES4}, {RULES6} by itself"
    )


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        (
            "armed",
            {
                "changed": True,
                "state": "confirmed",
                "msg": "confirmed; nodeguard-ufw-rollback.timer stopped",
                "files": [CONF, RULES4, RULES6],
            },
        ),
        ("nothing", {"changed": False, "state": "none", "msg": "no ufw change awaited confirmation", "files": []}),
        (
            "rolled-back",
            {
                "changed": False,
                "state": "rolled-back",
                "failed": True,
                "msg": f"too late: a previous ufw change was never confirmed: the node put back {CONF}, {RULES4}, "
                f"{RULES6} by itself; the change is undone, find out why the controller could not reconnect in time",
                "files": [CONF, RULES4, RULES6],
            },
        ),
    ],
)
def test_confirm(tree, prepare, expected):
    fake = setup(tree)
    if prepare != "nothing":
        _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(True))
    if prepare == "rolled-back":
        tree.write(f"{STATE_DIR}/rolled-back", "")
    assert _rollback.confirm(fake.node, KIND) == expected
    assert ["/usr/sbin/systemctl", "stop", "nodeguard-ufw-rollback.timer"] in fake.module.calls
    assert fake.systemd.units.get(KIND.timer) in (None, False)
    if prepare == "armed":
        assert not tree.file(STATE_DIR).exists()
        assert _rollback.state(fake.node, KIND) == _rollback.RollbackState()
    if prepare == "rolled-back":
        # The evidence of the rollback stays for the audit.
        assert tree.file(f"{STATE_DIR}/rolled-back").exists()


@pytest.mark.parametrize(
    ("prepare", "expected"),
    [
        (
            "armed",
            {
                "changed": True,
                "state": "confirmed",
                "msg": "would confirm the ufw change and stop nodeguard-ufw-rollback.timer",
                "files": [CONF, RULES4, RULES6],
            },
        ),
        ("nothing", {"changed": False, "state": "none", "msg": "no ufw change awaits confirmation", "files": []}),
        (
            "rolled-back",
            {
                "changed": False,
                "state": "rolled-back",
                "failed": True,
                "msg": f"too late: a previous ufw change was never confirmed: the node put back {CONF}, {RULES4}, "
                f"{RULES6} by itself",
                "files": [CONF, RULES4, RULES6],
            },
        ),
    ],
)
def test_predict_reads_what_confirm_would_do_and_changes_nothing(tree, prepare, expected):
    fake = setup(tree)
    if prepare != "nothing":
        _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(True))
    if prepare == "rolled-back":
        tree.write(f"{STATE_DIR}/rolled-back", "")
    fake.module.calls.clear()
    before = tree.snapshot()
    assert _rollback.predict(fake.node, KIND) == expected
    assert tree.snapshot() == before
    assert all(call[1] == "is-active" for call in fake.module.calls)
    assert fake.systemd.units.get(KIND.timer) is (True if prepare != "nothing" else None)


def test_disarm_stops_the_timer_and_drops_the_state(tree):
    fake = setup(tree)
    _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(True))
    _rollback.disarm(fake.node, KIND)
    assert fake.module.calls[-1] == ["/usr/sbin/systemctl", "stop", "nodeguard-ufw-rollback.timer"]
    assert fake.systemd.units[KIND.timer] is False
    assert not tree.file(STATE_DIR).exists()
    assert _rollback.state(fake.node, KIND) == _rollback.RollbackState()


def test_state_after_a_reboot_dropped_the_timer(tree):
    fake = setup(tree)
    _rollback.arm(fake.node, KIND, previous(tree), 120, ufw_rollback.tail(True))
    fake.systemd.units[KIND.timer] = False
    found = _rollback.state(fake.node, KIND)
    assert (found.armed, found.pending) == (True, False)
    assert found.describe() == (
        "a previous ufw change was never confirmed and its timer is gone (a reboot?); it stays installed"
    )
    # A stale state does not block the next change.
    _rollback.arm(fake.node, KIND, {RULES6: "x\n"}, 120, ufw_rollback.tail(True))
    assert tree.read(f"{STATE_DIR}/manifest") == f"present\t{RULES6}\t{STATE_DIR}/saved/0\n"


def test_a_state_is_described_by_its_kind():
    assert _rollback.RollbackState().describe() is None
    with pytest.raises(ValueError, match="without its kind"):
        _rollback.RollbackState(armed=True).describe()
    assert _rollback.RollbackState(armed=True, kind=KIND) == _rollback.RollbackState(armed=True)


@pytest.mark.parametrize("timeout", [0, 29, 3601, "120", True, None, 120.0])
def test_check_timeout_refuses(timeout):
    with pytest.raises(ControlInputError, match="rollback timeout must be a number of seconds from 30 to 3600"):
        _rollback.check_timeout(timeout)


@pytest.mark.parametrize("timeout", [30, 120, 3600])
def test_check_timeout_accepts(timeout):
    assert _rollback.check_timeout(timeout) == timeout


# ufw_confirm through AnsibleModule.


@pytest.fixture
def module(tree, monkeypatch):
    fake = FakeModule()
    FakeSystemd().register(fake)
    monkeypatch.setattr(_rollback, "Node", lambda real: Node(real, tree.paths))
    monkeypatch.setattr(ufw_confirm.AnsibleModule, "run_command", lambda self, args, **kw: fake.run_command(args))
    monkeypatch.setattr(ufw_confirm.AnsibleModule, "get_bin_path", lambda self, name, **kw: f"/usr/sbin/{name}")
    _rollback.arm(Node(fake, tree.paths), KIND, previous(tree), 120, ufw_rollback.tail(True))
    fake.calls.clear()
    return fake


def run_main(args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
        ufw_confirm.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


def test_ufw_confirm_stops_the_timer_and_drops_the_saved_files(tree, module, capsys):
    rc, out = run_main({}, capsys)
    assert rc == 0, out
    assert (out["changed"], out["state"], out["files"]) == (True, "confirmed", [CONF, RULES4, RULES6])
    assert out["msg"] == "confirmed; nodeguard-ufw-rollback.timer stopped"
    assert ["/usr/sbin/systemctl", "stop", "nodeguard-ufw-rollback.timer"] in module.calls
    assert not tree.file(STATE_DIR).exists()


def test_ufw_confirm_in_check_mode_changes_nothing(tree, module, capsys):
    before = tree.snapshot()
    rc, out = run_main({"_ansible_check_mode": True}, capsys)
    assert rc == 0, out
    assert (out["changed"], out["state"]) == (True, "confirmed")
    assert out["msg"] == "would confirm the ufw change and stop nodeguard-ufw-rollback.timer"
    assert tree.snapshot() == before
    assert not [call for call in module.calls if call[1] != "is-active"]


@pytest.mark.parametrize("check_mode", [False, True])
def test_ufw_confirm_too_late_fails(tree, module, capsys, check_mode):
    tree.write(f"{STATE_DIR}/rolled-back", "")
    rc, out = run_main({"_ansible_check_mode": check_mode}, capsys)
    assert rc == 1
    assert (out["changed"], out["state"]) == (False, "rolled-back")
    assert out["msg"].startswith("too late: a previous ufw change was never confirmed") and RULES6 in out["msg"]


def test_ufw_confirm_without_a_change_does_nothing(tree, module, capsys):
    _rollback.disarm(Node(module, tree.paths), KIND)
    rc, out = run_main({}, capsys)
    assert rc == 0, out
    assert (out["changed"], out["state"], out["files"]) == (False, "none", [])
    assert out["msg"] == "no ufw change awaited confirmation"


def test_confirm_waits_for_a_restore_the_timer_has_started(tree, monkeypatch):
    fake = setup(tree)
    _rollback.arm(fake.node, KIND, {CONF: OLD_CONF}, 90, ["/usr/sbin/ufw reload"])
    running = iter([True, True, False])
    monkeypatch.setattr(_rollback, "unit_active", lambda node, name: next(running) if name == KIND.service else False)
    monkeypatch.setattr(_rollback.time, "sleep", lambda seconds: tree.write(f"{STATE_DIR}/rolled-back", ""))
    result = _rollback.confirm(fake.node, KIND)
    assert (result["state"], result["failed"]) == ("rolled-back", True)
    assert "too late" in result["msg"]
