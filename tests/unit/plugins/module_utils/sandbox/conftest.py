# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake node for the sandbox families: the system tests' tree and module, what a command got on
its standard input, and scripted containerd and kubectl."""

from __future__ import annotations

import glob
import json
import os

import pytest
import tomllib

from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import tomltext

from ..system.conftest import FakeModule, Tree

CONFIG = "/etc/containerd/config.toml"
DROP_IN = "/etc/containerd/conf.d/90-nodeguard-sandbox.toml"
CRI = "io.containerd.grpc.v1.cri"
CRI_V3 = "io.containerd.cri.v1.runtime"
CONTAINERD_1 = "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1\n"
CONTAINERD_2 = "containerd containerd.io v2.0.0 207ad711eabd375a01713109a8a197d197ff6542\n"


class StdinModule(FakeModule):
    """FakeModule that also keeps what each command was given on its standard input."""

    def __init__(self, controls: list[dict], *, check_mode: bool = False) -> None:
        super().__init__(controls, check_mode=check_mode)
        self.stdin: list[tuple[list[str], str | None]] = []

    def run_command(self, argv, data=None, environ_update=None):
        self.stdin.append(([str(a) for a in argv], data))
        return super().run_command(argv, data=data, environ_update=environ_update)


class FakeContainerd:
    """containerd --version, and containerd --config FILE config dump over the tree: the main file
    with its imports merged in, each imported file replacing whole plugin sections (containerd 1.x).

    C(mode): C(merge) (as containerd does), C(main_only) (a containerd that ignores the imports),
    C(fail) (it cannot read its configuration), C(garbage) (prints something that is not TOML)."""

    def __init__(self, tree: Tree, version: str = CONTAINERD_1, mode: str = "merge") -> None:
        self.tree = tree
        self.version = version
        self.mode = mode
        self.dumps = 0

    def register(self, module: FakeModule) -> None:
        module.commands["containerd"] = self

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        if argv[1:] == ["--version"]:
            return 0, self.version, ""
        if argv[1] != "--config" or argv[3:] != ["config", "dump"]:
            return 1, "", f"unexpected containerd call {argv}"
        self.dumps += 1
        if self.mode == "fail":
            return 1, "", 'containerd: failed to load TOML from /etc/containerd/config.toml: invalid plugin key URI "x"'
        if self.mode == "garbage":
            return 0, "time=2024-01-01 level=warning msg=deprecated [unclosed\n", ""
        try:
            merged = self.load(argv[2])
        except (OSError, tomllib.TOMLDecodeError) as exc:
            return 1, "", f"containerd: failed to load TOML from {argv[2]}: {exc}"
        if self.mode == "merge":
            for path in self.imported(merged.get("imports") or [], os.path.dirname(argv[2])):
                try:
                    data = self.load(path)
                except (OSError, tomllib.TOMLDecodeError) as exc:
                    return 1, "", f"containerd: failed to load TOML from {path}: {exc}"
                for key, item in data.items():
                    if key == "plugins":
                        merged.setdefault("plugins", {}).update(item)
                    elif key not in ("version", "imports"):
                        merged[key] = item
        merged.pop("imports", None)
        return 0, tomltext.dumps(merged), ""

    @staticmethod
    def load(path: str) -> dict:
        with open(path, "rb") as handle:
            return tomllib.load(handle)

    def imported(self, patterns: list[str], base: str) -> list[str]:
        root = str(self.tree.root)
        files: list[str] = []
        for pattern in patterns:
            absolute = pattern if pattern.startswith("/") else os.path.join(base[len(root) :] or "/", pattern)
            for path in sorted(glob.glob(root + absolute)):
                if path not in files:
                    files.append(path)
        return files


class FakeKubectl:
    """kubectl get/apply of RuntimeClasses and get/label of nodes, over dicts of what the cluster holds.

    The API server answers with the stored object plus its own metadata, quantities in the
    spelling C(canonical) maps them to (the API server stores 0.25 CPU as 250m); C(unreachable)
    makes every call fail as a kubectl without a reachable API server does."""

    def __init__(self, module: StdinModule, runtimeclasses: dict | None = None, labels: dict | None = None) -> None:
        self.module = module
        self.runtimeclasses: dict[str, dict] = dict(runtimeclasses or {})
        self.labels: dict[str, dict[str, str]] = {name: dict(items) for name, items in (labels or {}).items()}
        self.unreachable = False
        self.canonical: dict[str, str] = {}
        module.commands["kubectl"] = self

    def __call__(self, argv: list[str]) -> tuple[int, str, str]:
        if self.unreachable:
            return 1, "", "The connection to the server 10.0.0.1:6443 was refused - did you specify the right host?"
        words = argv[3:]  # after kubectl --kubeconfig PATH
        if words[:2] == ["get", "runtimeclass"]:
            body = self.runtimeclasses.get(words[2])
            if body is None:
                return 1, "", f'Error from server (NotFound): runtimeclasses.node.k8s.io "{words[2]}" not found'
            return 0, json.dumps(self.served(body)), ""
        if words == ["apply", "-f", "-"]:
            body = json.loads(self.module.stdin[-1][1])
            fixed = (body.get("overhead") or {}).get("podFixed") or {}
            for key, quantity in fixed.items():
                fixed[key] = self.canonical.get(quantity, quantity)
            self.runtimeclasses[body["metadata"]["name"]] = body
            return 0, f"runtimeclass.node.k8s.io/{body['metadata']['name']} configured\n", ""
        if words[:2] == ["get", "node"]:
            name = words[2]
            if name not in self.labels:
                return 1, "", f'Error from server (NotFound): nodes "{name}" not found'
            return 0, json.dumps({"kind": "Node", "metadata": {"name": name, "labels": self.labels[name]}}), ""
        if words[:2] == ["label", "node"]:
            assert "--overwrite" in words
            for pair in words[3:]:
                if pair != "--overwrite":
                    key, _sep, value = pair.partition("=")
                    self.labels[words[2]][key] = value
            return 0, f"node/{words[2]} labeled\n", ""
        return 1, "", f"unexpected kubectl call {argv}"

    @staticmethod
    def served(body: dict) -> dict:
        metadata = {
            **body["metadata"],
            "uid": "5f3c",
            "resourceVersion": "812",
            "creationTimestamp": "2024-05-01T10:00:00Z",
        }
        return {**body, "metadata": metadata}


@pytest.fixture
def tree(tmp_path) -> Tree:
    return Tree(tmp_path)


def shown(text: str) -> dict:
    """A TOML text as data."""
    return tomllib.loads(text)


def calls_of(module: FakeModule, program: str) -> list[list[str]]:
    return [call for call in module.calls if os.path.basename(call[0]) == program]
