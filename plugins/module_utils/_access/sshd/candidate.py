# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private copy of sshd's configuration tree with the planned files in their place.

C(sshd -t -f FILE) and C(sshd -T -f FILE) judge one configuration file and what it includes. To
judge exactly what will be installed, every file sshd would read is copied into a temporary
directory beside the configuration (/etc/ssh/.nodeguard-sshd-XXXX, mode 0700), the planned
contents in place of the real ones, each Include line rewritten to name the copies of the files
it reads, in the same order and at the same place (inside the same Match block). Including the
candidate drop-in before the real sshd_config would not do: the old drop-in would then be read
as well, and keywords that add up (AllowUsers, DenyUsers, Port, ...) would be judged with the
old values added to the new ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.origin import SSHDIR, Config
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

PREFIX = ".nodeguard-sshd-"


@dataclass
class Shadow:
    """The copy: C(main) is the file to give sshd with C(-f); C(real) maps each copy to its file."""

    directory: str
    main: str
    real: dict[str, str] = field(default_factory=dict)

    def explain(self, message: str) -> str:
        """sshd's words with the copies' names replaced by the files they stand for."""
        for copy, path in sorted(self.real.items(), key=lambda item: -len(item[0])):
            message = message.replace(copy, f"{path} (candidate)")
        return message

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def quote(path: str) -> str:
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build(node: Node, config: Config) -> Shadow:
    """Write the copy of C(config) (read with the planned files as overrides). The caller removes it."""
    directory = tempfile.mkdtemp(prefix=PREFIX, dir=node.path(SSHDIR))
    copies = {path: os.path.join(directory, f"{index:03d}.conf") for index, path in enumerate(config.texts)}
    shadow = Shadow(directory, copies[config.main], {copy: path for path, copy in copies.items()})
    try:
        rewrites: dict[str, dict[int, str]] = {}
        for include in config.includes:
            targets = [quote(copies.get(path, node.path(path))) for path in include.files]
            line = (
                f"Include {' '.join(targets)}"
                if targets
                else f"# no file matches: Include {' '.join(include.patterns)}"
            )
            rewrites.setdefault(include.path, {})[include.number] = line
        for path, text in config.texts.items():
            lines = text.splitlines()
            for number, line in rewrites.get(path, {}).items():
                lines[number - 1] = line
            fd = os.open(copies[path], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
    except OSError:
        shadow.remove()
        raise
    return shadow
