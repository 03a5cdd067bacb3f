# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake node for the system families: a temporary tree and a scripted command runner."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node


class FakeModule:
    """What the families use of AnsibleModule. C(commands) maps a command's argv (joined by
    spaces) or its first word to a handler returning (rc, out, err); every call is recorded."""

    def __init__(self, controls: list[dict], *, check_mode: bool = False) -> None:
        self.params = {"controls": controls}
        self.check_mode = check_mode
        self.calls: list[list[str]] = []
        self.commands: dict[str, t.Callable[[list[str]], tuple[int, str, str]]] = {}
        self.moves: list[str] = []

    def run_command(self, argv, data=None, environ_update=None):
        argv = [str(a) for a in argv]
        self.calls.append(argv)
        name = os.path.basename(argv[0])
        for key in (" ".join([name, *argv[1:]]), name):
            if key in self.commands:
                return self.commands[key](argv)
        return 127, "", f"{name}: not scripted in this test"

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return f"/usr/sbin/{name}"

    def atomic_move(self, src, dest):
        self.moves.append(dest)
        os.rename(src, dest)


class Tree:
    """A node in a temporary directory: config files under root/, kernel modules under sys/module."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.module_root = base / "sys" / "module"
        self.root.mkdir()
        self.module_root.mkdir(parents=True)
        self.paths = NodePaths(
            proc_root=str(base / "proc" / "sys"), module_root=str(self.module_root), conf_root=str(self.root)
        )
        self.write("/etc/os-release", 'ID=debian\nVERSION_ID="12"\n')

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def write(self, path: str, text: str, mode: int = 0o644) -> Path:
        target = self.file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)
        return target

    def read(self, path: str) -> str | None:
        target = self.file(path)
        return target.read_text() if target.exists() else None

    def load_module(self, name: str, builtin: bool = False) -> None:
        folder = self.module_root / name
        folder.mkdir()
        if not builtin:
            (folder / "initstate").write_text("live\n")

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        return {
            str(p.relative_to(self.base)): (p.read_bytes(), p.stat().st_mode)
            for p in sorted(self.base.rglob("*"))
            if p.is_file()
        }

    def node(self, module: FakeModule) -> Node:
        return Node(module, self.paths)


@pytest.fixture
def tree(tmp_path) -> Tree:
    return Tree(tmp_path)


def control(cid: str, family: str, spec: t.Any, *, enabled: bool = True, reason: str | None = None, **extra) -> dict:
    """A control as AnsibleModule hands it over, every option present."""
    return {
        "id": cid,
        "title": f"title of {cid}",
        "benchmarks": [],
        "level": 1,
        "profile": None,
        "enabled": enabled,
        "reason": reason,
        "family": family,
        "spec": spec,
        "by_platform": extra.pop("by_platform", {}),
        **extra,
    }
