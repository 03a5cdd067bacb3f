# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Files found by one walk of the node's local filesystems (CIS 7.1.11 to 7.1.13): world-writable
files and directories, files whose owner or group is unknown, and SUID/SGID programs.

Every walk control of a run (and the auditd rules for privileged commands) shares one walk,
read through C(node.cached). What is walked:

- mounts of local block filesystems (ext4, xfs, btrfs, ...) and the tmpfs mounts at C(/tmp),
  C(/var/tmp) and C(/dev/shm), where anyone can write and a file left open to all matters;
- never C(/proc), C(/sys), C(/dev) (but C(/dev/shm)), C(/run), nor the data of the container
  runtimes and the kubelet (C(/var/lib/containerd), C(/var/lib/kubelet), C(/var/lib/docker),
  C(/var/lib/containers)): what pods write there belongs to the pods;
- never network filesystems (nfs, cifs, ceph, fuse, ...), overlay mounts of containers, nor
  vfat and exfat (no Unix modes: every file there looks world-writable).

The walk stays on each mount's device, skips every other mount point (a mount that is walked is
walked from its own root, once per device, so bind mounts are not read twice), does not follow
symbolic links and passes over entries that vanish while it runs.
"""

from __future__ import annotations

import os
import stat
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

LOCAL_TYPES = frozenset(
    {"ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "jfs", "reiserfs", "zfs", "bcachefs", "nilfs2"}
)
TMPFS_ROOTS = ("/tmp", "/var/tmp", "/dev/shm")
NEVER = (
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/lib/containerd",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containers",
)
# Differences and details listed per control; the count is always complete.
LIMIT = 500

KINDS = {"world_writable": ("fix", "report"), "unowned": ("report",), "suid_sgid": ("inventory",)}


@dataclass(frozen=True)
class Mount:
    point: str
    fstype: str
    options: frozenset = frozenset()


@dataclass(frozen=True)
class Entry:
    """One file the walk kept: its path on the node, C(st_mode), owner and group ids, its mount."""

    path: str
    mode: int
    uid: int
    gid: int
    mount: Mount


@dataclass
class WalkResult:
    mounts: list[Mount] = field(default_factory=list)
    world_writable: list[Entry] = field(default_factory=list)
    unowned: list[Entry] = field(default_factory=list)
    suid_sgid: list[Entry] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    # None when /etc/passwd or /etc/group could not be read: owners were not checked.
    owners_known: bool = True


def mounts_path(node: Node) -> str:
    """The mount table, next to the node's C(/proc/sys) (a temporary tree in tests)."""
    return os.path.join(os.path.dirname(node.paths.proc_root.rstrip("/")), "self", "mounts")


def _unescape(text: str) -> str:
    # The kernel writes space, tab, newline and backslash in mount points as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        text = text.replace(code, char)
    return text


def parse_mounts(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4:
            mounts.append(Mount(_unescape(fields[1]), fields[2], frozenset(fields[3].split(","))))
    return mounts


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def eligible(mount: Mount) -> bool:
    """Whether a mount is walked: a local block filesystem outside the skipped trees, or tmpfs at
    /tmp, /var/tmp or /dev/shm."""
    if mount.fstype == "tmpfs":
        return mount.point in TMPFS_ROOTS
    return mount.fstype in LOCAL_TYPES and not any(_under(mount.point, top) for top in NEVER)


def _pruned(path: str, root: str, others: set[str]) -> bool:
    if path in others:
        return True
    return any(_under(path, top) and not _under(root, top) for top in NEVER)


def _ids(text: str | None) -> set[int] | None:
    if text is None:
        return None
    found = set()
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].strip().isdigit():
            found.add(int(parts[2]))
    return found


def local_walk(node: Node) -> WalkResult:
    """The one walk of this run (read again after changes, when the node forgets its cache)."""
    return node.cached("walk:local", lambda: _walk(node))


def _walk(node: Node) -> WalkResult:
    table = []
    try:
        with open(mounts_path(node), encoding="utf-8") as handle:
            table = parse_mounts(handle.read())
    except OSError:
        table = []
    if not table:
        table = [Mount("/", "ext4")]  # no mount table: walk the root filesystem alone
    users = _ids(node.read("/etc/passwd"))
    groups = _ids(node.read("/etc/group"))
    result = WalkResult(owners_known=users is not None and groups is not None)

    roots: list[tuple[Mount, int]] = []
    devices: set[int] = set()
    for mount in sorted((m for m in table if eligible(m)), key=lambda m: (len(m.point), m.point)):
        try:
            device = os.stat(node.path(mount.point)).st_dev
        except OSError:
            continue
        if device in devices:
            continue  # a bind mount of a filesystem walked from its own root
        devices.add(device)
        roots.append((mount, device))
    others = {m.point for m in table} - {m.point for m, _unused in roots}
    result.mounts = [m for m, _unused in roots]

    for mount, device in roots:
        stack = [mount.point]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(node.path(folder)) as listing:
                    children = list(listing)
            except FileNotFoundError:
                continue
            except OSError:
                result.unreadable.append(folder)
                continue
            for child in children:
                path = os.path.join(folder, child.name)
                try:
                    info = child.stat(follow_symlinks=False)
                except OSError:
                    continue  # vanished while walking
                entry = Entry(path, info.st_mode, info.st_uid, info.st_gid, mount)
                _classify(result, entry, users, groups)
                if stat.S_ISDIR(info.st_mode) and info.st_dev == device and not _pruned(path, mount.point, others):
                    stack.append(path)
    for found in (result.world_writable, result.unowned, result.suid_sgid):
        found.sort(key=lambda e: e.path)
    return result


def _classify(result: WalkResult, entry: Entry, users: set[int] | None, groups: set[int] | None) -> None:
    mode = entry.mode
    if mode & stat.S_IWOTH and (stat.S_ISREG(mode) or (stat.S_ISDIR(mode) and not mode & stat.S_ISVTX)):
        result.world_writable.append(entry)
    if users is not None and groups is not None and (entry.uid not in users or entry.gid not in groups):
        result.unowned.append(entry)
    if stat.S_ISREG(mode) and mode & (stat.S_ISUID | stat.S_ISGID):
        result.suid_sgid.append(entry)


def excluded(path: str, exclude: t.Iterable[str]) -> bool:
    return any(_under(path, top) for top in exclude)


def _secured(mode: int) -> int:
    """The permission bits a world-writable entry gets: a file loses o+w, a directory gets +t."""
    bits = stat.S_IMODE(mode)
    return bits | stat.S_ISVTX if stat.S_ISDIR(mode) else bits & ~stat.S_IWOTH


def _kind(mode: int) -> str:
    return "directory" if stat.S_ISDIR(mode) else "file"


class Walk(Family):
    name = "walk"

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        cid = control["id"]
        if not isinstance(spec, dict):
            raise c.ControlInputError(f"control {cid!r}: spec must be a mapping with one of {', '.join(sorted(KINDS))}")
        kinds = [key for key in spec if key in KINDS]
        unknown = sorted(set(spec) - set(KINDS) - {"exclude"})
        if unknown or len(kinds) != 1:
            raise c.ControlInputError(
                f"control {cid!r}: spec takes exactly one of {', '.join(sorted(KINDS))} and optionally exclude"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        kind = kinds[0]
        mode = spec[kind]
        if mode not in KINDS[kind]:
            raise c.ControlInputError(f"control {cid!r}: {kind} must be {' or '.join(KINDS[kind])}, not {mode!r}")
        exclude = spec.get("exclude") or []
        if not isinstance(exclude, list) or not all(
            isinstance(p, str) and p.startswith("/") and ".." not in p.split("/") for p in exclude
        ):
            raise c.ControlInputError(f"control {cid!r}: exclude must list absolute paths, got {exclude!r}")
        return {"kind": kind, "mode": mode, "exclude": tuple(p.rstrip("/") or "/" for p in exclude)}

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        walked = local_walk(node)
        found = {}
        for control, spec in items:
            check = getattr(self, f"_{spec['kind']}")
            finding = check(node, walked, spec)
            finding.details["walked"] = [m.point for m in walked.mounts]
            if walked.unreadable:
                finding.details["unreadable"] = walked.unreadable[:LIMIT]
            if spec["exclude"]:
                finding.details["excluded"] = list(spec["exclude"])
            found[control["id"]] = finding
        return found

    @staticmethod
    def _world_writable(node: Node, walked: WalkResult, spec: dict) -> Finding:
        entries = [e for e in walked.world_writable if not excluded(e.path, spec["exclude"])]
        files = [e for e in entries if not stat.S_ISDIR(e.mode)]
        finding = Finding(
            expected={"world-writable files": 0, "world-writable directories without the sticky bit": 0},
            actual={
                "world-writable files": len(files),
                "world-writable directories without the sticky bit": len(entries) - len(files),
            },
        )
        for entry in entries[:LIMIT]:
            finding.differences.append(
                c.difference(
                    entry.path,
                    "mode",
                    f"{_secured(entry.mode):04o}",
                    f"{stat.S_IMODE(entry.mode):04o} ({_kind(entry.mode)})",
                )
            )
        if len(entries) > LIMIT:
            finding.differences.append(
                c.difference(f"{len(entries) - LIMIT} more", "mode", "not world-writable", "world-writable")
            )
        if spec["mode"] == "fix":
            finding.actions = [_secure_action(node, entry) for entry in entries]
        elif entries:
            finding.unfixable = (
                "report only (world_writable: report): remove o+w from the files and set the sticky bit "
                "on the directories by hand, or switch the control to world_writable: fix"
            )
        return finding

    @staticmethod
    def _unowned(node: Node, walked: WalkResult, spec: dict) -> Finding:
        if not walked.owners_known:
            return Finding(skipped="/etc/passwd or /etc/group cannot be read, so owners cannot be checked")
        entries = [e for e in walked.unowned if not excluded(e.path, spec["exclude"])]
        finding = Finding(expected={"files without a known owner or group": 0}, actual={"files": len(entries)})
        want = "a user of /etc/passwd and a group of /etc/group"
        for entry in entries[:LIMIT]:
            finding.differences.append(c.difference(entry.path, "owner", want, f"{entry.uid}:{entry.gid}"))
        if len(entries) > LIMIT:
            finding.differences.append(c.difference(f"{len(entries) - LIMIT} more", "owner", want, "unknown"))
        if entries:
            finding.unfixable = (
                "who should own these files is a person's decision: give each an owner and a group "
                "that exist (chown), remove it, or exclude its path"
            )
        return finding

    @staticmethod
    def _suid_sgid(node: Node, walked: WalkResult, spec: dict) -> Finding:
        entries = [e for e in walked.suid_sgid if not excluded(e.path, spec["exclude"])]
        listed = [
            {
                "path": e.path,
                "mode": f"{stat.S_IMODE(e.mode):04o}",
                "setuid": bool(e.mode & stat.S_ISUID),
                "setgid": bool(e.mode & stat.S_ISGID),
                "owner": f"{e.uid}:{e.gid}",
            }
            for e in entries[:LIMIT]
        ]
        return Finding(
            expected="every SUID and SGID program reviewed by a person",
            actual={"suid and sgid programs": len(entries)},
            details={"programs": listed, "count": len(entries)},
        )


def _secure_action(node: Node, entry: Entry) -> Action:
    """Remove o+w from a file or set the sticky bit on a directory; undo gives back the old mode.

    The mode is read again when the action runs: only the one bit changes, and an entry that is
    gone by then (a temporary file) is left alone.
    """
    target = node.path(entry.path)
    old = stat.S_IMODE(entry.mode)
    new = _secured(entry.mode)

    def set_mode(secure: bool) -> None:
        try:
            info = os.lstat(target)
        except FileNotFoundError:
            return
        if stat.S_ISLNK(info.st_mode):
            return
        os.chmod(target, _secured(info.st_mode) if secure else old)

    return Action(
        f"walk:mode:{entry.path}",
        f"set mode of {entry.path} to {new:04o}",
        lambda: set_mode(True),
        lambda: set_mode(False),
        [state_diff(f"mode of {entry.path}", f"{old:04o}\n", f"{new:04o}\n")],
    )
