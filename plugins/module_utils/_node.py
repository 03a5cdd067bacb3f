# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where a node keeps the state the modules read and change."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils._files import read_text


@dataclass(frozen=True)
class NodePaths:
    """Roots of the node's kernel and configuration trees; tests point them at a temporary tree."""

    proc_root: str = "/proc/sys"
    module_root: str = "/sys/module"
    conf_root: str = "/"

    def conf(self, path: str) -> str:
        """An absolute configuration path, under C(conf_root)."""
        return os.path.join(self.conf_root, path.lstrip("/"))

    def os_release(self) -> dict[str, str]:
        """The fields of /etc/os-release (or /usr/lib/os-release), quotes removed; empty if neither exists."""
        for path in ("/etc/os-release", "/usr/lib/os-release"):
            text = read_text(self.conf(path))
            if text is not None:
                fields = {}
                for line in text.splitlines():
                    key, sep, value = line.partition("=")
                    if sep:
                        fields[key.strip()] = value.strip().strip("\"'")
                return fields
        return {}

    def module_loaded(self, name: str) -> bool:
        """Whether a kernel module is loaded or built in (modprobe treats - and _ alike)."""
        return os.path.isdir(os.path.join(self.module_root, name.replace("-", "_")))
