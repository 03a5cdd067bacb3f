# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.mounts import (
    DROP_IN_HEADER,
    MOUNTS,
    Mounts,
    effective,
    unit_name,
)

from .conftest import FakeModule, control

LIVE = (
    "/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0\n"
    "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
    "tmpfs /dev/shm tmpfs rw,nosuid,nodev,inode64 0 0\n"
    "/dev/sda2 /tmp ext4 rw,relatime 0 0\n"
    "/dev/sda3 /home ext4 rw,nodev,relatime 0 0\n"
)
FSTAB = (
    "# /etc/fstab: static file system information.\n"
    "UUID=1111 /               ext4    errors=remount-ro 0       1\n"
    "UUID=2222 /tmp            ext4    defaults,exec   0       2\n"
    "UUID=3333  /home  ext4  defaults,nodev  0  2   # keep this comment\n"
)
FSTAB_FIXED = FSTAB.replace("defaults,exec   0", "defaults,nodev,nosuid,noexec   0")


def option_control(path, option, number):
    return control(
        f"cis.mounts.{path.strip('/').replace('/', '_')}.{option}", "mounts", {"path": path, "options": [option]}
    )


TMP = [option_control("/tmp", option, n) for n, option in enumerate(("nodev", "nosuid", "noexec"), 2)]
HOME = [option_control("/home", "nodev", 2), option_control("/home", "nosuid", 3)]
VAR_TMP = option_control("/var/tmp", "noexec", 4)
SHM = [option_control("/dev/shm", option, n) for n, option in enumerate(("nodev", "nosuid", "noexec"), 2)]


def run(tree, controls, *, check_mode=False, refuse=(), reload_rc=0):
    module = FakeModule(controls, check_mode=check_mode)

    def mount(argv):
        assert argv[1] == "-o" and argv[2].startswith("remount,")
        path, options = argv[3], argv[2].split(",")[1:]
        if path in refuse:
            return 32, "", f"mount: {path}: mount point not mounted or bad option."
        lines = []
        for line in tree.read(MOUNTS).splitlines():
            fields = line.split()
            if fields[1] == path:
                have = fields[3].split(",")
                for option in options:
                    inverse = {"dev": "nodev", "suid": "nosuid", "exec": "noexec"}.get(option)
                    if inverse:
                        have = [o for o in have if o != inverse]
                    elif option not in have:
                        have.append(option)
                fields[3] = ",".join(have)
            lines.append(" ".join(fields))
        tree.write(MOUNTS, "\n".join(lines) + "\n")
        return 0, "", ""

    module.commands["mount"] = mount
    module.commands["systemctl daemon-reload"] = lambda argv: (reload_rc, "", "" if reload_rc == 0 else "failed")
    return module, engine.run(module, tree.node(module), [Mounts()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


@pytest.fixture
def node(tree):
    tree.write(MOUNTS, LIVE)
    tree.write("/etc/fstab", FSTAB)
    return tree


def test_check_mode_reports_drift_and_touches_nothing(node):
    before = node.snapshot()
    module, result = run(node, [*TMP, *HOME, VAR_TMP], check_mode=True)
    assert statuses(result) == [
        ("cis.mounts.tmp.nodev", "drift"),
        ("cis.mounts.tmp.nosuid", "drift"),
        ("cis.mounts.tmp.noexec", "drift"),
        ("cis.mounts.home.nodev", "pass"),
        ("cis.mounts.home.nosuid", "drift"),
        ("cis.mounts.var_tmp.noexec", "skipped"),
    ]
    assert node.snapshot() == before
    assert module.calls == []
    assert result["controls"][2]["differences"] == [
        {"item": "/tmp", "where": "live", "expected": "noexec", "actual": "rw,relatime"},
        {"item": "/tmp", "where": "/etc/fstab line 3", "expected": "noexec", "actual": "defaults,exec"},
    ]
    assert result["controls"][4]["differences"] == [
        {"item": "/home", "where": "live", "expected": "nosuid", "actual": "rw,nodev,relatime"},
        {"item": "/home", "where": "/etc/fstab line 4", "expected": "nosuid", "actual": "defaults,nodev"},
    ]
    assert result["controls"][5]["reason"] == "/var/tmp is not a separate mount; repartitioning is left to you"
    assert result["actions"] == [
        "remount /tmp with nodev,nosuid,noexec",
        "set nodev,nosuid,noexec for /tmp in /etc/fstab",
        "remount /home with nosuid",
        "set nosuid for /home in /etc/fstab",
    ]


def test_apply_remounts_first_edits_one_field_and_is_idempotent(node):
    module, result = run(node, [*TMP, *HOME])
    assert {status for _unused, status in statuses(result)} == {"fixed", "pass"}
    assert module.calls == [
        ["/usr/sbin/mount", "-o", "remount,nodev,nosuid,noexec", "/tmp"],
        ["/usr/sbin/systemctl", "daemon-reload"],
        ["/usr/sbin/mount", "-o", "remount,nosuid", "/home"],
        ["/usr/sbin/systemctl", "daemon-reload"],
    ]
    assert node.read("/etc/fstab") == FSTAB_FIXED.replace("defaults,nodev  0", "defaults,nodev,nosuid  0")
    assert "/dev/sda2 /tmp ext4 rw,relatime,nodev,nosuid,noexec 0 0" in node.read(MOUNTS)
    module, again = run(node, [*TMP, *HOME])
    assert {status for _unused, status in statuses(again)} == {"pass"}
    assert again["changed"] is False
    assert module.calls == []


def test_fstab_changed_by_hand_is_named_and_only_fstab_is_fixed(node):
    run(node, TMP)
    node.write("/etc/fstab", FSTAB_FIXED.replace("nosuid,noexec   0", "noexec,suid   0"))
    module, result = run(node, TMP, check_mode=True)
    assert statuses(result)[1] == ("cis.mounts.tmp.nosuid", "drift")
    assert result["controls"][1]["differences"] == [
        {"item": "/tmp", "where": "/etc/fstab line 3", "expected": "nosuid", "actual": "defaults,nodev,noexec,suid"}
    ]
    module, result = run(node, TMP)
    assert module.calls == [["/usr/sbin/systemctl", "daemon-reload"]]
    assert "defaults,nodev,noexec,nosuid   0" in node.read("/etc/fstab")


def test_refused_remount_changes_nothing(node):
    before = node.snapshot()
    with pytest.raises(engine.ApplyError, match=r"remount /tmp .* failed: .*bad option.*nothing had been changed"):
        run(node, TMP, refuse=("/tmp",))
    assert node.snapshot() == before


def test_failure_after_the_remount_undoes_it(node):
    with pytest.raises(engine.ApplyError, match=r"set nodev,nosuid,noexec for /tmp in /etc/fstab failed"):
        run(node, TMP, reload_rc=1)
    assert node.read("/etc/fstab") == FSTAB
    assert "/dev/sda2 /tmp ext4 rw,relatime 0 0" in node.read(MOUNTS)


def test_dev_shm_without_fstab_line_gets_one(node):
    module, result = run(node, SHM)
    assert statuses(result) == [(ctl["id"], "fixed") for ctl in SHM]
    assert result["controls"][0]["differences"] == [
        {"item": "/dev/shm", "where": "/etc/fstab", "expected": "a line with nodev", "actual": None}
    ]
    assert node.read("/etc/fstab") == (
        FSTAB
        + "# /dev/shm: mount options of nodeguard.hardening (CIS 1.1.2)\n"
        + "tmpfs\t/dev/shm\ttmpfs\trw,nosuid,nodev,inode64,noexec\t0\t0\n"
    )
    assert module.calls[0] == ["/usr/sbin/mount", "-o", "remount,noexec", "/dev/shm"]
    module, again = run(node, SHM)
    assert statuses(again) == [(ctl["id"], "pass") for ctl in SHM] and module.calls == []


TMP_MOUNT = "[Unit]\nDescription=Temporary Directory /tmp\n\n[Mount]\nWhat=tmpfs\nWhere=/tmp\nType=tmpfs\n"
TMP_MOUNT += "Options=mode=1777,strictatime,nosuid,nodev,size=50%%,nr_inodes=1m\n"
DROP_IN = "/etc/systemd/system/tmp.mount.d/60-nodeguard-hardening.conf"


@pytest.fixture
def tmp_unit(node):
    node.write(MOUNTS, LIVE.replace("/dev/sda2 /tmp ext4 rw,relatime", "tmpfs /tmp tmpfs rw,nosuid,nodev,inode64"))
    node.write("/etc/fstab", FSTAB.replace("UUID=2222 /tmp ", "#UUID=2222 /tmp "))
    node.write("/usr/lib/systemd/system/tmp.mount", TMP_MOUNT)
    return node


def test_systemd_tmp_mount_gets_a_drop_in(tmp_unit):
    _unused, result = run(tmp_unit, TMP, check_mode=True)
    assert statuses(result) == [
        ("cis.mounts.tmp.nodev", "pass"),
        ("cis.mounts.tmp.nosuid", "pass"),
        ("cis.mounts.tmp.noexec", "drift"),
    ]
    assert result["controls"][2]["differences"][1] == {
        "item": "/tmp",
        "where": "/usr/lib/systemd/system/tmp.mount line 8",
        "expected": "noexec",
        "actual": "mode=1777,strictatime,nosuid,nodev,size=50%%,nr_inodes=1m",
    }
    module, result = run(tmp_unit, TMP)
    assert tmp_unit.read(DROP_IN) == (
        DROP_IN_HEADER + "[Mount]\nOptions=mode=1777,strictatime,nosuid,nodev,size=50%%,nr_inodes=1m,noexec\n"
    )
    assert tmp_unit.read("/etc/fstab") == FSTAB.replace("UUID=2222 /tmp ", "#UUID=2222 /tmp ")
    assert module.calls == [
        ["/usr/sbin/mount", "-o", "remount,noexec", "/tmp"],
        ["/usr/sbin/systemctl", "daemon-reload"],
    ]
    module, again = run(tmp_unit, TMP)
    assert {status for _unused, status in statuses(again)} == {"pass"} and module.calls == []


def test_a_later_drop_in_that_wins_is_an_error(tmp_unit):
    tmp_unit.write("/etc/systemd/system/tmp.mount.d/override.conf", "[Mount]\nOptions=mode=1777,nosuid,nodev\n")
    module, result = run(tmp_unit, TMP)
    assert statuses(result)[2] == ("cis.mounts.tmp.noexec", "error")
    assert "override.conf sets Options= for tmp.mount after" in result["controls"][2]["reason"]
    assert module.calls == []


def test_other_filesystem_without_fstab_line_is_an_error(node):
    node.write("/etc/fstab", "")
    module, result = run(node, TMP)
    assert statuses(result)[2] == ("cis.mounts.tmp.noexec", "error")
    assert "has no /etc/fstab line and no mount unit" in result["controls"][2]["reason"]
    assert module.calls == []


def test_fstab_line_without_mount_is_skipped(node):
    node.write("/etc/fstab", FSTAB + "UUID=4444 /var/tmp ext4 defaults 0 2\n")
    _unused, result = run(node, [VAR_TMP])
    assert result["controls"][0]["reason"] == (
        "/var/tmp has a line in /etc/fstab but is not mounted; mount it, then run again"
    )


@pytest.mark.parametrize(
    ("path", "status", "differences"),
    [
        ("/tmp", "pass", []),
        ("/dev/shm", "pass", []),
        (
            "/var/log",
            "error",
            [{"item": "/var/log", "where": "live", "expected": "a separate mount", "actual": "part of /"}],
        ),
        (
            "/var/log/audit",
            "error",
            [{"item": "/var/log/audit", "where": "live", "expected": "a separate mount", "actual": "part of /"}],
        ),
    ],
)
def test_separate_partition_is_report_only(node, path, status, differences):
    before = node.snapshot()
    module, result = run(node, [control("cis.mounts.separate", "mounts", {"path": path, "separate": True})])
    assert statuses(result) == [("cis.mounts.separate", status)]
    assert result["controls"][0]["differences"] == differences
    if differences:
        assert result["controls"][0]["reason"].startswith("repartitioning is left to you")
    assert node.snapshot() == before and module.calls == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"path": "/opt", "options": ["nodev"]}, "'/opt' is not one of the partitions"),
        ({"path": "/tmp/", "options": ["nodev"]}, "is not one of the partitions"),
        ({"path": "/tmp", "options": ["ro"]}, "option 'ro' is not one this family sets"),
        ({"path": "/tmp", "options": ["exec"]}, "option 'exec' is not one"),
        ({"path": "/tmp", "options": ["nodev,exec"]}, "is not one this family sets"),
        ({"path": "/tmp", "options": []}, "options must list"),
        ({"path": "/var", "options": ["nodev", "noexec"]}, "noexec on /var is refused: containerd"),
        ({"path": "/tmp", "separate": False}, "separate takes true"),
        ({"path": "/tmp", "separate": True, "options": ["nodev"]}, "spec must be"),
        ({"path": "/tmp", "options": ["nodev"], "remount": False}, "spec must be"),
    ],
)
def test_bad_input_fails_before_any_change(node, spec, message):
    before = node.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(node, [*TMP, control("site.mounts.bad", "mounts", spec)])
    assert node.snapshot() == before


@pytest.mark.parametrize(
    ("options", "option", "expected"),
    [
        (["defaults"], "nodev", False),
        (["defaults", "nodev"], "nodev", True),
        (["nodev", "defaults"], "nodev", False),
        (["nodev", "dev"], "nodev", False),
        (["user"], "noexec", True),
        (["user", "exec"], "noexec", False),
        (["owner"], "noexec", False),
        (["group"], "nosuid", True),
    ],
)
def test_effective_option(options, option, expected):
    assert effective(options, option) is expected


@pytest.mark.parametrize(
    ("path", "unit"),
    [("/tmp", "tmp.mount"), ("/var/log/audit", "var-log-audit.mount"), ("/dev/shm", "dev-shm.mount")],
)
def test_unit_name(path, unit):
    assert unit_name(path) == unit
