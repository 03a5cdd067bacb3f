# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Actions that write a managed file or set a file's mode and owner, each with its undo."""

from __future__ import annotations

import os
import stat

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, file_diff, state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node


def file_attributes(node: Node, path: str) -> tuple[int, int, int] | None:
    """(mode, uid, gid) of a file, None when it does not exist (links are not followed)."""
    try:
        info = os.lstat(node.path(path))
    except FileNotFoundError:
        return None
    return stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def content_differences(path: str, before: str | None, after: str, item: str | None = None) -> list[dict]:
    """The lines a managed file lacks or has in excess, as differences, each with its line number.

    Comments and blank lines are named only when nothing else differs, so that a file with other
    settings reads as those settings, not as every comment of the distribution's version.
    """
    if before == after:
        return []
    if before is None:
        return [c.difference(item or path, path, "present", None)]
    old, new = before.splitlines(), after.splitlines()

    def changes(meaningful: bool) -> list[dict]:
        def keep(line: str) -> bool:
            return not meaningful or (bool(line.strip()) and not line.lstrip().startswith("#"))

        found = [
            c.difference(item or path, f"{path} line {number}", line, None)
            for number, line in enumerate(new, 1)
            if keep(line) and line not in old
        ]
        found += [
            c.difference(item or path, f"{path} line {number}", None, line)
            for number, line in enumerate(old, 1)
            if keep(line) and line not in new
        ]
        return found

    found = changes(meaningful=True) or changes(meaningful=False)
    return found or [c.difference(item or path, path, "lines in the managed order", "other order")]


def write_action(node: Node, path: str, content: str, mode: int = 0o644) -> Action:
    """Replace a managed file atomically; undo puts the old content (or absence) back."""
    target = node.path(path)
    before = node.read(path)
    attributes = file_attributes(node, path)

    def run() -> None:
        atomic_write(node.module, target, content, mode)

    def undo() -> None:
        if before is None:
            os.unlink(target)
        else:
            atomic_write(node.module, target, before, attributes[0] if attributes else mode)

    return Action(f"write:{path}", f"write {path}", run, undo, [file_diff(path, before, content)])


def attribute_action(node: Node, path: str, mode: int | None, uid: int | None, gid: int | None) -> Action:
    """chmod and chown one path; undo restores what it had."""
    target = node.path(path)
    old = file_attributes(node, path)
    if old is None:
        raise c.ControlInputError(f"{path} does not exist")
    new = (old[0] if mode is None else mode, old[1] if uid is None else uid, old[2] if gid is None else gid)

    def set_to(values: tuple[int, int, int]) -> None:
        os.lchown(target, values[1], values[2])
        if not os.path.islink(target):
            os.chmod(target, values[0])

    return Action(
        f"attributes:{path}",
        f"set {path} to {new[0]:04o} {new[1]}:{new[2]}",
        lambda: set_to(new),
        lambda: set_to(old),
        [state_diff(f"mode and owner of {path}", "{:04o} {}:{}\n".format(*old), "{:04o} {}:{}\n".format(*new))],
    )
