# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re
import stat

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.bootloader import (
    DROPIN,
    GRUB_CFG,
    NO_GRUB,
    Bootloader,
)

from .conftest import FakeModule, control
from .system_fakes import FakeApt

APPARMOR = control("cis.bootloader.apparmor", "bootloader", {"cmdline": {"apparmor": "1", "security": "apparmor"}})
AUDIT = control("cis.bootloader.audit", "bootloader", {"cmdline": {"audit": 1}})
ACCESS = control("cis.bootloader.config_access", "bootloader", {"config_mode": "0600"})
PASSWORD = control("cis.bootloader.password", "bootloader", {"password": "report"})
ALL = [APPARMOR, AUDIT, ACCESS, PASSWORD]


def grub_cfg(parameters: str, extra: str = "") -> str:
    return (
        extra + "menuentry 'Debian GNU/Linux' {\n"
        f"\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro quiet{parameters}\n"
        "}\nsubmenu 'Advanced' {\n"
        f"\tlinux\t/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro single{parameters}\n}}\n"
    )


class Grub:
    """update-grub over the tree: the parameters of /etc/default/grub.d files on every linux line,
    grub.cfg written anew with mode 0444 as grub-mkconfig does without a password."""

    def __init__(self, tree, rc=0):
        self.tree = tree
        self.rc = rc
        self.runs = 0

    def __call__(self, argv):
        self.runs += 1
        if self.rc:
            return self.rc, "", "grub-mkconfig: error: syntax error in /etc/default/grub.d"
        words = []
        for path in sorted((self.tree.root / "etc/default/grub.d").glob("*.cfg")):
            for match in re.finditer(r'GRUB_CMDLINE_LINUX="\$GRUB_CMDLINE_LINUX ([^"]*)"', path.read_text()):
                words += match.group(1).split()
        target = self.tree.file(GRUB_CFG)
        target.unlink(missing_ok=True)
        self.tree.write(GRUB_CFG, grub_cfg("".join(f" {w}" for w in words)), 0o444)
        return 0, "Generating grub configuration file ...\ndone\n", ""


def node_with_grub(tree, mode=0o444):
    tree.write(GRUB_CFG, grub_cfg(""), mode)
    tree.write("/proc-cmdline", "BOOT_IMAGE=/boot/vmlinuz-6.1.0-18-amd64 root=UUID=1234 ro quiet\n")


def run(tree, controls, *, check_mode=False, grub=None, packages=None):
    module = FakeModule(controls, check_mode=check_mode)
    FakeApt(packages or {}).register(module)
    module.commands["update-grub"] = grub or Grub(tree)
    family = Bootloader(cmdline_path=str(tree.file("/proc-cmdline")))
    return module, engine.run(module, tree.node(module), [family])


def statuses(result):
    return {r["id"]: r["status"] for r in result["controls"]}


def mode_of(tree, path):
    return stat.S_IMODE(tree.file(path).stat().st_mode)


def test_without_grub_every_control_is_skipped_and_the_running_kernel_is_reported(tree):
    tree.write("/proc-cmdline", "root=/dev/vda rw console=ttyS0 apparmor=1\n")
    before = tree.snapshot()
    module, result = run(tree, ALL)
    assert statuses(result) == dict.fromkeys((c["id"] for c in ALL), "skipped")
    assert all(r["reason"] == NO_GRUB for r in result["controls"])
    assert result["controls"][0]["details"] == {
        "running kernel": {"apparmor": "1", "security": None},
        "running kernel has them": False,
    }
    assert tree.snapshot() == before
    assert not any(call[0].endswith("update-grub") for call in module.calls)


def test_check_mode_names_what_differs_and_changes_nothing(tree):
    node_with_grub(tree)
    before = tree.snapshot()
    grub = Grub(tree)
    _unused, result = run(tree, ALL, check_mode=True, grub=grub)
    assert statuses(result) == {
        "cis.bootloader.apparmor": "drift",
        "cis.bootloader.audit": "drift",
        "cis.bootloader.config_access": "drift",
        "cis.bootloader.password": "drift",
    }
    assert tree.snapshot() == before and grub.runs == 0
    apparmor = result["controls"][0]["differences"]
    assert apparmor[0] == {
        "item": "apparmor=1 security=apparmor",
        "where": DROPIN,
        "expected": 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX apparmor=1 security=apparmor"',
        "actual": None,
    }
    assert {"item": "apparmor=1", "where": f"{GRUB_CFG} line 2", "expected": "apparmor=1", "actual": None} in apparmor
    assert result["controls"][2]["differences"] == [
        {"item": GRUB_CFG, "where": "mode", "expected": "0600 or stricter", "actual": "0444"}
    ]
    assert result["actions"] == [f"write {DROPIN} and run update-grub", f"set {GRUB_CFG} to 0400 0:0"]


def test_apply_writes_the_parameters_keeps_grub_cfg_private_and_is_idempotent(tree):
    node_with_grub(tree)
    grub = Grub(tree)
    _unused, result = run(tree, [APPARMOR, AUDIT, ACCESS], grub=grub)
    assert statuses(result) == dict.fromkeys(
        ["cis.bootloader.apparmor", "cis.bootloader.audit", "cis.bootloader.config_access"], "fixed"
    )
    assert grub.runs == 1
    assert 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX audit=1"' in tree.read(DROPIN)
    assert "ro quiet apparmor=1 security=apparmor audit=1" in tree.read(GRUB_CFG)
    assert mode_of(tree, GRUB_CFG) == 0o400
    # Not yet booted with them: a reboot brings them.
    assert result["controls"][0]["details"]["running kernel has them"] is False
    _unused, again = run(tree, [APPARMOR, AUDIT, ACCESS], grub=grub)
    assert set(statuses(again).values()) == {"pass"} and again["changed"] is False
    assert grub.runs == 1


def test_update_grub_keeps_the_mode_grub_cfg_had(tree):
    node_with_grub(tree, mode=0o400)
    run(tree, [APPARMOR, ACCESS])
    assert mode_of(tree, GRUB_CFG) == 0o400


def test_grub_cfg_regenerated_by_hand_is_named(tree):
    node_with_grub(tree)
    run(tree, [APPARMOR])
    tree.file(GRUB_CFG).unlink()
    tree.write(GRUB_CFG, grub_cfg(" apparmor=1"), 0o400)
    _unused, result = run(tree, [APPARMOR], check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "security=apparmor", "where": f"{GRUB_CFG} line 2", "expected": "security=apparmor", "actual": None}
    ]


@pytest.mark.parametrize(
    ("packages", "status"),
    [
        ({"grub-pc": "ii", "grub-common": "ii"}, "error"),
        ({"grub-common": "ii"}, "skipped"),
        ({"grub-pc": "rc"}, "skipped"),
    ],
    ids=["grub-pc", "tools-only", "removed"],
)
def test_a_grub_package_without_grub_cfg_is_not_skipped(tree, packages, status):
    _unused, result = run(tree, [ACCESS], packages=packages)
    assert statuses(result) == {"cis.bootloader.config_access": status}
    if status == "error":
        assert "there is no grub.cfg" in result["controls"][0]["reason"]


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ("", "error"),
        ('set superusers="root"\npassword_pbkdf2 root grub.pbkdf2.sha512.10000.ABC\n', "pass"),
    ],
    ids=["none", "set"],
)
def test_password_is_reported_only(tree, extra, status):
    tree.write(GRUB_CFG, grub_cfg("", extra), 0o400)
    _unused, result = run(tree, [PASSWORD])
    assert statuses(result) == {"cis.bootloader.password": status}
    if status == "error":
        assert "needs a password hash from you" in result["controls"][0]["reason"]


def test_failed_update_grub_undoes_the_file(tree):
    node_with_grub(tree, mode=0o400)
    with pytest.raises(engine.ApplyError, match=r"update-grub failed: .*syntax error"):
        run(tree, [APPARMOR], grub=Grub(tree, rc=1))
    assert tree.read(DROPIN) is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"cmdline": {"audit": "0"}}, "audit=0 here but audit=1 in control 'cis.bootloader.audit'"),
        ({"cmdline": {"init": "/bin/sh -c x"}}, "is not a kernel parameter"),
        ({"cmdline": {"Bad Key": "1"}}, "is not a kernel parameter"),
        ({"cmdline": {}}, "cmdline must map kernel parameters"),
        ({"config_mode": "0999"}, "is not an octal mode"),
        ({"password": "grub.pbkdf2.sha512.x"}, "password can only be reported"),
        ({"cmdline": {"audit": "1"}, "config_mode": "0600"}, "spec must be one of"),
    ],
    ids=["clash", "space", "key", "empty", "mode", "password", "two-kinds"],
)
def test_bad_input_fails_before_any_change(tree, spec, message):
    node_with_grub(tree)
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(tree, [*ALL, control("site.bad", "bootloader", spec)])
    assert tree.snapshot() == before
