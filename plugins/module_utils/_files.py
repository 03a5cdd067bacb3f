# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading and atomically replacing the small config files the modules own."""

from __future__ import annotations

import os
import stat
import tempfile
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError, difference


def read_text(path: str) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def check_drop_in_path(path: str, directory: str, why: str) -> str:
    """A drop-in must be a visible C(*.conf) file directly in C(directory), or boot never reads it."""
    name = os.path.basename(path)
    if os.path.dirname(path) != directory or not name.endswith(".conf") or name.startswith("."):
        raise ControlInputError(f"path {path!r} must be a '.conf' file (not hidden) directly in {directory}: {why}")
    return path


def atomic_write(module: t.Any, path: str, content: str, mode: int = 0o644) -> None:
    """Replace C(path) with C(content): a temporary file in the same directory, then a rename.

    Readers see the old file or the new one, never a half-written one. Owner is root, mode explicit.
    """
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".nodeguard-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if os.geteuid() == 0:
            os.chown(tmp, 0, 0)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    # atomic_move carries over the old file's mode; ours is fixed.
    os.chmod(path, mode)


def attribute_differences(path: str, shown_as: str, mode: int = 0o644) -> list[dict]:
    """Mode and owner of a managed file that differ from root:root and C(mode); none if it is absent."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return []
    found = []
    if stat.S_IMODE(info.st_mode) != mode:
        found.append(difference(shown_as, "mode", f"{mode:04o}", f"{stat.S_IMODE(info.st_mode):04o}"))
    if os.geteuid() == 0 and (info.st_uid, info.st_gid) != (0, 0):
        found.append(difference(shown_as, "owner", "0:0", f"{info.st_uid}:{info.st_gid}"))
    return found


def attribute_diff(differences: list[dict]) -> list[dict[str, str]]:
    """Diff entries for mode and owner differences."""
    return [state_diff(f"{d['where']} of {d['item']}", f"{d['actual']}\n", f"{d['expected']}\n") for d in differences]


def state_diff(header: str, before: str, after: str) -> dict[str, str]:
    """A diff entry for state that is not a file, such as live kernel values."""
    return {"before_header": header, "after_header": header, "before": before, "after": after}


def file_diff(path: str, before: str | None, after: str | None) -> dict[str, str]:
    return {
        "before_header": path if before is not None else f"{path} (absent)",
        "after_header": path if after is not None else f"{path} (absent)",
        "before": before or "",
        "after": after or "",
    }
