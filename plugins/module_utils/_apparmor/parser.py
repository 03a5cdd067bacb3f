# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""apparmor_parser: compile a profile without loading it, list the profiles a file declares, load
with replace (in enforce or complain mode) and unload.

A profile is compiled from a copy in a private temporary folder that bears the installed file's
name, so the parser's messages (file and line) read as they would for the installed file; the
folder's path is replaced by the profile folder's in every message.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node


@dataclass(frozen=True)
class Compiled:
    """What a profile's text compiles to: the SHA-1 of the policy and the profiles it declares."""

    raw_sha1: str
    names: tuple[str, ...]


def mode_args(mode: str) -> list[str]:
    return ["--complain"] if mode == "complain" else []


class Parser:
    def __init__(self, node: Node, binary: str, profile_dir: str) -> None:
        self.node = node
        self.binary = binary
        self.profile_dir = profile_dir

    def compile(self, file_name: str, content: str, mode: str, source: str) -> Compiled:
        """Compile and list; c.ControlInputError with the parser's message when it refuses."""
        folder = tempfile.mkdtemp(prefix="nodeguard-apparmor-")
        try:
            path = os.path.join(folder, file_name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(content)
            blob = self._run(
                [self.binary, "--skip-kernel-load", "--skip-cache", "--quiet", "-S", *mode_args(mode), path],
                folder,
                source,
                binary=True,
            )
            names = self._run([self.binary, "--names", path], folder, source).split()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return Compiled(hashlib.sha1(blob).hexdigest(), tuple(names))  # nosec B324 - the kernel's own hash

    def names(self, path: str) -> list[str]:
        """The profiles an installed file declares (empty when the parser cannot read it)."""
        rc, out, _unused = self.node.run([self.binary, "--names", self.node.path(path)], check=False)
        return out.split() if rc == 0 else []

    def load(self, path: str, mode: str) -> None:
        self.node.run([self.binary, "--replace", *mode_args(mode), self.node.path(path)])

    def unload(self, path: str) -> None:
        self.node.run([self.binary, "--remove", self.node.path(path)])

    def _run(self, argv: list[str], folder: str, source: str, *, binary: bool = False) -> t.Any:
        kwargs: dict[str, t.Any] = {"environ_update": {"LC_ALL": "C"}}
        if binary:
            kwargs["encoding"] = None
        rc, out, err = self.node.module.run_command(argv, **kwargs)
        if rc != 0:
            text = err.decode(errors="replace") if isinstance(err, bytes) else err
            message = " ".join(text.replace(folder, self.profile_dir).split()) or f"status {rc}"
            raise c.ControlInputError(f"apparmor_parser refused the profile from {source}: {message}")
        return out


def require(node: Node) -> str:
    binary = node.binary("apparmor_parser")
    if not binary:
        raise CommandError("apparmor_parser is not installed: install the apparmor package")
    return binary
