# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node a family of controls reads and changes: paths, commands, a read cache, the platform."""

from __future__ import annotations

import os
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils._files import read_text
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths


class CommandError(RuntimeError):
    """A command the node ran failed; the message names it and what it printed."""


class Node:
    """What every family works through, so unit tests can point it at a temporary tree.

    C(paths.conf_root) prefixes every file path; C(module.run_command) runs every command.
    Reads that several controls share (package status, unit states, mounts) are cached for one
    inspection and dropped with C(forget) once changes were made.
    """

    def __init__(self, module: t.Any, paths: NodePaths | None = None) -> None:
        self.module = module
        self.paths = paths or NodePaths()
        self._cache: dict[str, t.Any] = {}

    @property
    def check_mode(self) -> bool:
        return bool(self.module.check_mode)

    def path(self, path: str) -> str:
        return self.paths.conf(path)

    def read(self, path: str) -> str | None:
        return read_text(self.path(path))

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.path(path))

    def binary(self, name: str) -> str | None:
        return self.module.get_bin_path(name, required=False, opt_dirs=["/usr/sbin", "/sbin", "/usr/bin", "/bin"])

    def run(self, argv: list[str], *, check: bool = True, data: str | None = None) -> tuple[int, str, str]:
        rc, out, err = self.module.run_command(argv, data=data, environ_update={"LC_ALL": "C"})
        if check and rc != 0:
            raise CommandError(f"{' '.join(argv)} failed with status {rc}: {(err or out).strip()}")
        return rc, out, err

    def cached(self, key: str, read: t.Callable[[], t.Any]) -> t.Any:
        if key not in self._cache:
            self._cache[key] = read()
        return self._cache[key]

    def forget(self) -> None:
        self._cache.clear()

    def platform(self) -> list[str]:
        """Platform keys, most specific first: C(debian-13), C(debian) (from os-release)."""
        return self.cached("platform", self._read_platform)

    def _read_platform(self) -> list[str]:
        fields = self.os_release()
        ident = fields.get("ID", "").lower()
        major = fields.get("VERSION_ID", "").split(".")[0]
        keys = [f"{ident}-{major}"] if ident and major else []
        return [*keys, ident] if ident else keys

    def os_release(self) -> dict[str, str]:
        return self.cached("os-release", self.paths.os_release)
