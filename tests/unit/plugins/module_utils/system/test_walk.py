# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine, walk
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.walk import Mount, Walk

from .conftest import FakeModule, control

WW = control("cis.walk.world_writable", "walk", {"world_writable": "fix"})
UNOWNED = control("cis.walk.unowned", "walk", {"unowned": "report"})
SUID = control("cis.walk.suid_sgid", "walk", {"suid_sgid": "inventory"})
MOUNTS = (
    "/dev/vda1 / ext4 rw,relatime 0 0\n"
    "proc /proc proc rw,nosuid,nodev,noexec 0 0\n"
    "sysfs /sys sysfs rw 0 0\n"
    "tmpfs /run tmpfs rw,nosuid 0 0\n"
    "server:/export /mnt/nfs nfs4 rw 0 0\n"
    "/dev/vdb1 /var/lib/containerd ext4 rw 0 0\n"
    "overlay /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs overlay rw 0 0\n"
    "/dev/vda15 /boot/efi vfat rw 0 0\n"
)


def node_tree(tree, mounts=MOUNTS):
    tree.write("/etc/passwd", f"root:x:0:0:root:/root:/bin/bash\nme:x:{os.getuid()}:{os.getgid()}::/:/bin/sh\n")
    tree.write("/etc/group", f"root:x:0:\nme:x:{os.getgid()}:\n")
    proc = tree.base / "proc" / "self"
    proc.mkdir(parents=True, exist_ok=True)
    (proc / "mounts").write_text(mounts)
    # Places the walk never reads, each holding a file it would otherwise report.
    for hidden in (
        "/proc/1/environ",
        "/sys/kernel/x",
        "/run/user/1000/x",
        "/mnt/nfs/share",
        "/var/lib/containerd/snap/x",
        "/var/lib/kubelet/pods/p/volumes/x",
        "/var/lib/docker/x",
        "/boot/efi/EFI/x",
    ):
        tree.write(hidden, "x", 0o666)
    tree.write("/etc/hosts", "127.0.0.1 localhost\n", 0o644)
    tree.write("/usr/bin/sudo", "elf", 0o4755)
    tree.write("/usr/bin/wall", "elf", 0o2755)


def run(tree, controls, *, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    return module, engine.run(module, tree.node(module), [Walk()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def mode(tree, path):
    return tree.file(path).stat().st_mode & 0o7777


def test_check_mode_reports_world_writable_and_changes_nothing(tree):
    node_tree(tree)
    tree.write("/srv/data/open.txt", "x", 0o666)
    tree.file("/srv/data").chmod(0o777)
    before = tree.snapshot()
    module, result = run(tree, [WW], check_mode=True)
    assert statuses(result) == [("cis.walk.world_writable", "drift")]
    assert tree.snapshot() == before
    assert mode(tree, "/srv/data") == 0o777
    assert result["controls"][0]["differences"] == [
        {"item": "/srv/data", "where": "mode", "expected": "1777", "actual": "0777 (directory)"},
        {"item": "/srv/data/open.txt", "where": "mode", "expected": "0664", "actual": "0666 (file)"},
    ]
    assert result["actions"] == ["set mode of /srv/data to 1777", "set mode of /srv/data/open.txt to 0664"]
    assert module.calls == []


def test_fix_secures_and_second_run_is_a_no_op(tree):
    node_tree(tree)
    tree.write("/srv/data/open.txt", "x", 0o666)
    tree.file("/srv/data").chmod(0o777)
    tree.write("/tmp/shared/ok", "x", 0o644)
    tree.file("/tmp/shared").chmod(0o1777)
    _unused, result = run(tree, [WW])
    assert statuses(result) == [("cis.walk.world_writable", "fixed")]
    assert mode(tree, "/srv/data") == 0o1777
    assert mode(tree, "/srv/data/open.txt") == 0o664
    assert mode(tree, "/tmp/shared") == 0o1777
    _unused, again = run(tree, [WW])
    assert statuses(again) == [("cis.walk.world_writable", "pass")]
    assert again["changed"] is False
    # What the walk never reads stays as it was.
    assert mode(tree, "/var/lib/kubelet/pods/p/volumes/x") == 0o666
    assert mode(tree, "/mnt/nfs/share") == 0o666
    assert mode(tree, "/boot/efi/EFI/x") == 0o666


def test_file_opened_by_hand_is_named(tree):
    node_tree(tree)
    run(tree, [WW])
    tree.file("/etc/hosts").chmod(0o646)
    _unused, result = run(tree, [WW], check_mode=True)
    assert result["controls"][0]["differences"] == [
        {"item": "/etc/hosts", "where": "mode", "expected": "0644", "actual": "0646 (file)"}
    ]


def test_report_mode_is_an_error_and_changes_nothing(tree):
    node_tree(tree)
    tree.write("/srv/open.txt", "x", 0o666)
    _unused, result = run(tree, [dict(WW, spec={"world_writable": "report"})])
    assert statuses(result) == [("cis.walk.world_writable", "error")]
    assert "report only" in result["controls"][0]["reason"]
    assert mode(tree, "/srv/open.txt") == 0o666


def test_excluded_paths_are_left_alone(tree):
    node_tree(tree)
    tree.write("/srv/hostpath/open.txt", "x", 0o666)
    _unused, result = run(tree, [dict(WW, spec={"world_writable": "fix", "exclude": ["/srv/hostpath/"]})])
    assert statuses(result) == [("cis.walk.world_writable", "pass")]
    assert mode(tree, "/srv/hostpath/open.txt") == 0o666


def test_bind_mount_is_not_walked_twice(tree):
    # A second mount of the root filesystem's device is a view of files walked from its root.
    node_tree(tree, MOUNTS + "/dev/vda1 /srv/bind ext4 rw 0 0\n")
    tree.write("/data/open.txt", "x", 0o666)
    tree.write("/srv/bind/open.txt", "x", 0o666)
    _unused, result = run(tree, [WW], check_mode=True)
    found = result["controls"][0]
    assert [d["item"] for d in found["differences"]] == ["/data/open.txt"]
    assert found["details"]["walked"] == ["/"]


def test_symlinks_are_not_followed(tree):
    node_tree(tree)
    outside = tree.base / "outside"
    outside.mkdir()
    (outside / "secret").write_text("x")
    (outside / "secret").chmod(0o666)
    tree.file("/srv").mkdir()
    os.symlink(outside, tree.file("/srv/link"))
    os.symlink(tree.file("/var/lib/kubelet/pods/p/volumes/x"), tree.file("/srv/link-file"))
    _unused, result = run(tree, [WW])
    assert statuses(result) == [("cis.walk.world_writable", "pass")]
    assert (outside / "secret").stat().st_mode & 0o777 == 0o666


def test_unowned_files_are_reported_not_changed(tree):
    node_tree(tree)
    if os.geteuid() != 0:
        pytest.skip("giving a file an unknown owner needs root")
    orphan = tree.write("/srv/orphan", "x")
    os.chown(orphan, 4242, 4343)
    _unused, result = run(tree, [UNOWNED])
    assert statuses(result) == [("cis.walk.unowned", "error")]
    found = result["controls"][0]
    assert found["differences"] == [
        {
            "item": "/srv/orphan",
            "where": "owner",
            "expected": "a user of /etc/passwd and a group of /etc/group",
            "actual": "4242:4343",
        }
    ]
    assert "person's decision" in found["reason"]
    assert (orphan.stat().st_uid, orphan.stat().st_gid) == (4242, 4343)


def test_group_missing_from_etc_group_counts(tree):
    node_tree(tree)
    tree.write("/etc/group", "root:x:0:\n")  # the test user's group is gone
    _unused, result = run(tree, [UNOWNED], check_mode=True)
    if os.getgid() == 0:
        assert statuses(result) == [("cis.walk.unowned", "pass")]
    else:
        assert statuses(result) == [("cis.walk.unowned", "drift")]


def test_no_unowned_files_pass(tree):
    node_tree(tree)
    _unused, result = run(tree, [UNOWNED])
    assert statuses(result) == [("cis.walk.unowned", "pass")]


def test_unreadable_passwd_skips_unowned(tree):
    node_tree(tree)
    tree.file("/etc/passwd").unlink()
    _unused, result = run(tree, [UNOWNED])
    assert statuses(result) == [("cis.walk.unowned", "skipped")]


def test_suid_sgid_inventory_lists_and_passes(tree):
    node_tree(tree)
    before = tree.snapshot()
    _unused, result = run(tree, [SUID])
    assert statuses(result) == [("cis.walk.suid_sgid", "pass")]
    details = result["controls"][0]["details"]
    assert [p["path"] for p in details["programs"]] == ["/usr/bin/sudo", "/usr/bin/wall"]
    assert details["programs"][0]["setuid"] is True and details["programs"][1]["setgid"] is True
    assert details["count"] == 2
    assert tree.snapshot() == before


def test_one_walk_serves_every_control(tree, monkeypatch):
    node_tree(tree)
    calls = []
    real = walk._walk
    monkeypatch.setattr(walk, "_walk", lambda node: calls.append(1) or real(node))
    run(tree, [WW, UNOWNED, SUID], check_mode=True)
    assert len(calls) == 1


def test_failed_change_undoes_earlier_ones(tree, monkeypatch):
    node_tree(tree)
    tree.write("/srv/a", "x", 0o666)
    tree.write("/srv/b", "x", 0o666)
    real = os.chmod

    def chmod(path, value, *args, **kwargs):
        if str(path).endswith("/srv/b"):
            raise PermissionError(1, "Operation not permitted", str(path))
        return real(path, value, *args, **kwargs)

    monkeypatch.setattr(walk.os, "chmod", chmod)
    with pytest.raises(engine.ApplyError, match=r"set mode of /srv/b to 0664 failed.*undid 1 earlier"):
        run(tree, [WW])
    assert mode(tree, "/srv/a") == 0o666


def test_entry_gone_before_the_change_is_left_alone(tree):
    node_tree(tree)
    path = tree.write("/srv/tmpfile", "x", 0o666)
    module = FakeModule([WW])
    node = tree.node(module)
    entry = walk.Entry("/srv/tmpfile", path.stat().st_mode, 0, 0, Mount("/", "ext4"))
    action = walk._secure_action(node, entry)
    path.unlink()
    action.run()
    action.undo()
    assert not path.exists()


@pytest.mark.parametrize(
    ("mount", "walked"),
    [
        (Mount("/", "ext4"), True),
        (Mount("/home", "xfs"), True),
        (Mount("/srv", "btrfs"), True),
        (Mount("/tmp", "tmpfs"), True),
        (Mount("/dev/shm", "tmpfs"), True),
        (Mount("/var/tmp", "tmpfs"), True),
        (Mount("/run", "tmpfs"), False),
        (Mount("/run/user/1000", "tmpfs"), False),
        (Mount("/mnt/nfs", "nfs4"), False),
        (Mount("/mnt/smb", "cifs"), False),
        (Mount("/proc", "proc"), False),
        (Mount("/boot/efi", "vfat"), False),
        (Mount("/var/lib/kubelet", "ext4"), False),
        (Mount("/var/lib/containerd", "xfs"), False),
        (Mount("/var/lib/docker", "ext4"), False),
        (Mount("/run/containerd/x/rootfs", "overlay"), False),
    ],
    ids=lambda v: v.point if isinstance(v, Mount) else str(v),
)
def test_which_mounts_are_walked(mount, walked):
    assert walk.eligible(mount) is walked


def test_mount_points_with_spaces_are_read():
    assert walk.parse_mounts("/dev/sdb1 /mnt/my\\040disk ext4 rw 0 0\n") == [
        Mount("/mnt/my disk", "ext4", frozenset({"rw"}))
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"world_writable": "remove"}, "world_writable must be fix or report"),
        ({"unowned": "fix"}, "unowned must be report"),
        ({"suid_sgid": "strip"}, "suid_sgid must be inventory"),
        ({"world_writable": "fix", "unowned": "report"}, "exactly one of"),
        ({"exclude": ["/srv"]}, "exactly one of"),
        ({"world_writable": "fix", "exclude": ["srv"]}, "exclude must list absolute paths"),
        ({"world_writable": "fix", "skip": ["/srv"]}, "unknown: skip"),
        ("fix", "spec must be a mapping"),
    ],
    ids=["ww-value", "unowned-value", "suid-value", "two-kinds", "no-kind", "relative", "unknown-key", "not-a-dict"],
)
def test_bad_input_fails_before_any_change(tree, spec, message):
    node_tree(tree)
    tree.write("/srv/open.txt", "x", 0o666)
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(tree, [WW, control("site.walk.bad", "walk", spec)])
    assert tree.snapshot() == before
