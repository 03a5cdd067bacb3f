# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.apparmor import Apparmor

from .conftest import FakeModule, control
from .system_fakes import FakeSystemd

L1 = control("cis.apparmor.profiles", "apparmor", {"modes": ["enforce", "complain"]})
L2 = control("cis.apparmor.enforcing", "apparmor", {"modes": ["enforce"]}, level=2)
PROFILES = (
    "/usr/bin/man (enforce)\nman_groff (enforce)\ncri-containerd.apparmor.d (enforce)\nnvidia_modprobe (complain)\n"
)


class Kernel:
    """AppArmor's kernel side in the tree: the module switch, securityfs and /proc."""

    def __init__(self, tree, enabled="Y", profiles=PROFILES):
        self.tree = tree
        self.securityfs = tree.base / "security"
        self.proc = tree.base / "proc"
        if enabled is not None:
            switch = tree.module_root / "apparmor" / "parameters" / "enabled"
            switch.parent.mkdir(parents=True)
            switch.write_text(f"{enabled}\n")
        if profiles is not None:
            (self.securityfs / "apparmor").mkdir(parents=True)
            (self.securityfs / "apparmor" / "profiles").write_text(profiles)
        self.proc.mkdir(exist_ok=True)

    def process(self, pid, comm, exe, label):
        folder = self.proc / str(pid)
        (folder / "attr").mkdir(parents=True)
        (folder / "attr" / "current").write_text(f"{label}\n")
        (folder / "comm").write_text(f"{comm}\n")
        if exe:
            os.symlink(exe, folder / "exe")

    def family(self):
        return Apparmor(securityfs_root=str(self.securityfs), proc_root=str(self.proc))


def healthy():
    return FakeSystemd({"apparmor.service": ["loaded", "enabled", "active"]})


def run(tree, kernel, systemd, controls, *, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    module.commands["systemctl"] = systemd
    return module, engine.run(module, tree.node(module), [kernel.family()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def test_enforce_and_complain_pass_level_1_but_not_level_2(tree):
    kernel = Kernel(tree)
    kernel.process(1, "systemd", "/usr/lib/systemd/systemd", "unconfined")
    kernel.process(2, "kthreadd", None, "unconfined")
    _unused, result = run(tree, kernel, healthy(), [L1, L2], check_mode=True)
    assert statuses(result) == [("cis.apparmor.profiles", "pass"), ("cis.apparmor.enforcing", "drift")]
    assert result["controls"][0]["details"]["profiles by mode"] == {"enforce": 3, "complain": 1}
    assert result["controls"][1]["differences"] == [
        {"item": "nvidia_modprobe", "where": "live", "expected": "enforce", "actual": "complain"}
    ]
    _unused, applied = run(tree, kernel, healthy(), [L1, L2])
    assert "aa-enforce" in applied["controls"][1]["reason"]


def test_disabled_service_is_enabled_and_started_then_nothing_to_do(tree):
    kernel = Kernel(tree)
    systemd = FakeSystemd({"apparmor.service": ["loaded", "disabled", "inactive"]})
    _unused, checked = run(tree, kernel, systemd, [L1], check_mode=True)
    assert checked["controls"][0]["differences"] == [
        {"item": "apparmor.service", "where": "unit", "expected": "enabled", "actual": "disabled, inactive"},
        {"item": "apparmor.service", "where": "live", "expected": "active", "actual": "inactive"},
    ]
    assert systemd.changes == []
    _unused, result = run(tree, kernel, systemd, [L1])
    assert statuses(result) == [("cis.apparmor.profiles", "fixed")]
    assert systemd.changes == [["enable", "--now", "apparmor.service"]]
    _unused, again = run(tree, kernel, systemd, [L1])
    assert statuses(again) == [("cis.apparmor.profiles", "pass")] and again["changed"] is False


def test_unconfined_process_with_a_profile_is_named(tree):
    kernel = Kernel(tree)
    kernel.process(4242, "man", "/usr/bin/man", "unconfined")
    kernel.process(4243, "man", "/usr/bin/man", "/usr/bin/man (enforce)")
    _unused, result = run(tree, kernel, healthy(), [L1])
    assert statuses(result) == [("cis.apparmor.profiles", "error")]
    assert result["controls"][0]["differences"] == [
        {"item": "man (pid 4242)", "where": "live", "expected": "confined by /usr/bin/man", "actual": "unconfined"}
    ]
    assert "restart man" in result["controls"][0]["reason"]


def test_appamor4_unconfined_mode_profiles_are_listed_not_counted(tree):
    """AppArmor 4's "unconfined" profiles only grant user namespaces; any other mode still fails."""
    kernel = Kernel(tree, profiles=PROFILES + "unprivileged_userns (unconfined)\n")
    _unused, result = run(tree, kernel, healthy(), [L1])
    assert statuses(result) == [("cis.apparmor.profiles", "pass")]
    details = result["controls"][0]["details"]
    assert details["profiles in AppArmor 4's unconfined mode (user namespaces only)"] == ["unprivileged_userns"]


def test_profile_in_another_mode_fails_level_1(tree):
    kernel = Kernel(tree, profiles=PROFILES + "odd (prompt)\n")
    _unused, result = run(tree, kernel, healthy(), [L1])
    assert statuses(result) == [("cis.apparmor.profiles", "error")]
    assert {
        "item": "odd",
        "where": "live",
        "expected": "enforce or complain",
        "actual": "prompt",
    } in (result["controls"][0]["differences"])


def test_apparmor_off_in_the_kernel_is_for_the_boot_loader_and_nothing_runs(tree):
    kernel = Kernel(tree, enabled="N", profiles=None)
    systemd = FakeSystemd({"apparmor.service": ["loaded", "disabled", "inactive"]})
    _unused, result = run(tree, kernel, systemd, [L1])
    assert statuses(result) == [("cis.apparmor.profiles", "error")]
    assert result["controls"][0]["differences"][0] == {
        "item": "AppArmor",
        "where": "kernel",
        "expected": "enabled",
        "actual": "N",
    }
    assert "apparmor=1 security=apparmor" in result["controls"][0]["reason"]
    assert systemd.changes == []


def test_unreadable_securityfs_and_missing_package_are_errors(tree):
    kernel = Kernel(tree, profiles=None)
    _unused, result = run(tree, kernel, FakeSystemd({}), [L1])
    reason = result["controls"][0]["reason"]
    assert statuses(result) == [("cis.apparmor.profiles", "error")]
    assert "cannot be read" in reason and "apparmor package is not installed" in reason


def test_a_failed_start_is_reported(tree):
    kernel = Kernel(tree)
    systemd = FakeSystemd({"apparmor.service": ["loaded", "disabled", "inactive"]}, fail="apparmor.service")
    with pytest.raises(engine.ApplyError, match=r"enable and start apparmor.service failed: .*Access denied"):
        run(tree, kernel, systemd, [L1])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"modes": ["enforce", "kill"]}, "spec must be"),
        ({"modes": []}, "spec must be"),
        ({"modes": "enforce"}, "spec must be"),
        ({"modes": ["enforce"], "fix": True}, "spec must be"),
        (["enforce"], "spec must be"),
    ],
    ids=["kill", "empty", "string", "extra-key", "list"],
)
def test_bad_input_fails_before_any_change(tree, spec, message):
    kernel = Kernel(tree)
    systemd = FakeSystemd({"apparmor.service": ["loaded", "disabled", "inactive"]})
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(tree, kernel, systemd, [L1, control("site.bad", "apparmor", spec)])
    assert tree.snapshot() == before and systemd.changes == []
