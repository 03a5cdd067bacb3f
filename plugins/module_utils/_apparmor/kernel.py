# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the kernel has loaded, read from securityfs as aa-status reads it.

C(<securityfs>/apparmor/profiles) lists every loaded profile as C(NAME (MODE)). Each profile also
has a folder under C(<securityfs>/apparmor/policy/profiles/) whose C(name) file holds its name and
whose C(raw_sha1) is the SHA-1 of the compiled policy it was loaded from, the same bytes
C(apparmor_parser -S) writes for the profile's file: comparing the two tells whether the loaded
policy is the one the installed file compiles to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils._files import read_text


@dataclass(frozen=True)
class Loaded:
    """One loaded profile: its mode (enforce, complain, kill, unconfined) and raw policy hash."""

    name: str
    mode: str
    raw_sha1: str | None


def enabled(module_root: str) -> bool:
    """AppArmor is on in the running kernel."""
    return (read_text(os.path.join(module_root, "apparmor", "parameters", "enabled")) or "").strip() == "Y"


def loaded(securityfs_root: str) -> dict[str, Loaded]:
    """Every loaded profile by name; empty when AppArmor's securityfs is not there."""
    root = os.path.join(securityfs_root, "apparmor")
    modes: dict[str, str] = {}
    for line in (read_text(os.path.join(root, "profiles")) or "").splitlines():
        name, sep, mode = line.rstrip().rpartition(" (")
        if sep and mode.endswith(")"):
            modes[name] = mode[:-1]
    hashes: dict[str, str] = {}
    folder = os.path.join(root, "policy", "profiles")
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        entries = []
    for entry in entries:
        name = (read_text(os.path.join(folder, entry, "name")) or "").strip()
        digest = (read_text(os.path.join(folder, entry, "raw_sha1")) or "").strip()
        if name and digest:
            hashes[name] = digest
    return {name: Loaded(name, mode, hashes.get(name)) for name, mode in modes.items()}
