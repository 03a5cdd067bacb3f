# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a node's kubelet is made of, read once per inspection.

systemd says which unit file and drop-ins make C(kubelet.service) and which process runs it. The
command line is rebuilt from those files (unit.py), the running process's own is read from /proc,
and from them come the files the kubelet really uses (C(--config), C(--kubeconfig), its client CA).
kube-bench finds the same files differently (the first existing path of each of its lists), and
the two answers are kept side by side so that a stale file kube-bench would judge is reported.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import kubebench, unit, yamldoc
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.settings import (
    SETTINGS,
    VALUE_FLAGS,
    get,
    type_error,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

SHOW_PROPERTIES = ("LoadState", "ActiveState", "SubState", "FragmentPath", "DropInPaths", "MainPID", "UnitFileState")


class KubeletInputError(c.ControlInputError):
    """The kubelet's own files cannot be read as the kubelet reads them; nothing was changed."""


@dataclass
class Process:
    pid: int
    argv: list[str]

    def flags(self) -> list[unit.Flag]:
        words = [unit.Word(text, unit.Source(f"/proc/{self.pid}/cmdline", 0, "running")) for text in self.argv]
        return unit.flags(words, lambda name: name in VALUE_FLAGS)


@dataclass
class Kubelet:
    """The kubelet of one node as the inspection found it."""

    service: str
    load_state: str = "not-found"
    active: bool = False
    fragment: str = ""
    dropins: list[str] = field(default_factory=list)
    definition: unit.Definition | None = None
    environment_files: list[str] = field(default_factory=list)
    flags: list[unit.Flag] = field(default_factory=list)
    process: Process | None = None
    config_path: str | None = None
    config_text: str | None = None
    config_data: t.Any = None
    kubeconfig: str | None = None
    client_ca: str | None = None
    bench: dict[str, str] = field(default_factory=dict)

    @property
    def installed(self) -> bool:
        return self.load_state == "loaded"

    def flag(self, name: str) -> unit.Flag | None:
        """The last occurrence of a flag on the command line the unit builds (the last one wins)."""
        found = [f for f in self.flags if f.name == name]
        return found[-1] if found else None

    def running_flag(self, name: str) -> unit.Flag | None:
        if self.process is None:
            return None
        found = [f for f in self.process.flags() if f.name == name]
        return found[-1] if found else None

    @property
    def unit_files(self) -> list[str]:
        return [self.fragment, *self.dropins] if self.fragment else list(self.dropins)


def show(node: Node, service: str) -> dict[str, str]:
    argv = ["systemctl", "show", service, *(f"--property={name}" for name in SHOW_PROPERTIES)]
    _rc, out, _err = node.run(argv)
    fields = {}
    for line in out.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key] = value
    return fields


def read_kubelet(node: Node, service: str, config_override: str | None = None) -> Kubelet:
    """Everything the kubelet controls look at, read once (cached on the node until it changes)."""
    return node.cached(f"kubelet:{service}:{config_override}", lambda: _read(node, service, config_override))


def _read(node: Node, service: str, config_override: str | None) -> Kubelet:
    fields = show(node, service)
    kubelet = Kubelet(service=service, load_state=fields.get("LoadState", "not-found"))
    if not kubelet.installed:
        return kubelet
    kubelet.active = fields.get("ActiveState") in ("active", "activating", "reloading")
    kubelet.fragment = fields.get("FragmentPath", "")
    kubelet.dropins = fields.get("DropInPaths", "").split()
    texts = []
    for path in kubelet.unit_files:
        text = node.read(path)
        if text is None:
            raise KubeletInputError(f"systemd names {path} for {service} but it cannot be read")
        texts.append((path, text))
    try:
        kubelet.definition = unit.parse_unit(texts)
        kubelet.environment_files = unit.apply_environment_files(kubelet.definition, node.read)
    except unit.UnitError as exc:
        raise KubeletInputError(f"{service}: {exc}") from exc
    kubelet.flags = unit.flags(kubelet.definition.argv(), lambda name: name in VALUE_FLAGS)
    pid = int(fields.get("MainPID") or 0)
    if pid > 0:
        cmdline = node.read(f"/proc/{pid}/cmdline")
        if cmdline:
            kubelet.process = Process(pid, [word for word in cmdline.split("\0") if word])
    config = kubelet.flag("config")
    kubelet.config_path = config_override or (config.value if config else None)
    kubeconfig = kubelet.flag("kubeconfig")
    kubelet.kubeconfig = kubeconfig.value if kubeconfig else None
    if kubelet.config_path:
        kubelet.config_text = node.read(kubelet.config_path)
        if kubelet.config_text is not None:
            kubelet.config_data = load_config(kubelet.config_path, kubelet.config_text)
    ca_flag = kubelet.flag("client-ca-file")
    _present, configured_ca = get(kubelet.config_data, ("authentication", "x509", "clientCAFile"))
    kubelet.client_ca = ca_flag.value if ca_flag else configured_ca if isinstance(configured_ca, str) else None
    # kube-bench stats its candidates (links followed). A program counts as running when a
    # process has its name, as `ps -C` selects; kube-bench also wants the command line to start
    # with the program, which an interpreted program (the lab's stand-in) does not do.
    kubelet.bench = kubebench.variables(
        lambda path: os.path.exists(node.path(path)), lambda name: bool(processes(node, name))
    )
    return kubelet


def load_config(path: str, text: str) -> dict:
    """The parsed KubeletConfiguration; anything the kubelet would refuse to read is an error."""
    try:
        data = yamldoc.load(text)
    except yamldoc.YamlError as exc:
        raise KubeletInputError(f"the kubelet configuration {path} cannot be read: {exc}; nothing was changed") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise KubeletInputError(f"the kubelet configuration {path} is not a mapping; nothing was changed")
    kind, version = data.get("kind"), data.get("apiVersion")
    if data and (kind != "KubeletConfiguration" or version != "kubelet.config.k8s.io/v1beta1"):
        raise KubeletInputError(
            f"{path} is kind {kind!r} of {version!r}, not a KubeletConfiguration of kubelet.config.k8s.io/v1beta1; "
            "nothing was changed"
        )
    # Every key this collection can manage must have a type the kubelet accepts, before any family
    # of the run changes anything.
    for key, setting in SETTINGS.items():
        present, have = get(data, setting.path)
        problem = type_error(setting, have) if present else None
        if problem:
            raise KubeletInputError(
                f"{path}: {key} is {have!r}, which the kubelet refuses ({key} {problem}); correct the file by hand, "
                "nothing was changed"
            )
    return data


def processes(node: Node, comm: str) -> list[Process]:
    """Running processes whose command name is C(comm), as C(ps -C) selects them; read once per
    inspection (every kube-bench check looks for its program)."""
    return node.cached(f"processes:{comm}", lambda: scan_processes(node, comm))


def scan_processes(node: Node, comm: str) -> list[Process]:
    """Running processes whose command name is C(comm), read from /proc now (no cache), by pid."""
    root = node.path("/proc")
    found = []
    try:
        entries = os.listdir(root)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        name = node.read(f"/proc/{entry}/comm")
        if name is None or name.strip() != comm[:15]:
            continue
        cmdline = node.read(f"/proc/{entry}/cmdline") or ""
        found.append(Process(int(entry), [word for word in cmdline.split("\0") if word]))
    return sorted(found, key=lambda p: p.pid)


class NodeView:
    """What kube-bench's audit commands would see on the node (kubebench.NodeView)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def stat(self, path: str) -> tuple[int, str, str] | None:
        try:
            info = os.stat(self.node.path(path))
        except OSError:
            return None
        return stat.S_IMODE(info.st_mode), user_name(info.st_uid), group_name(info.st_gid)

    def process(self, comm: str) -> list[str] | None:
        found = processes(self.node, comm)
        return found[0].argv if found else None

    def read(self, path: str) -> str | None:
        return self.node.read(path)


def user_name(uid: int) -> str:
    """The user's name, or the number where the node has no such user."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """The group's name, or the number where the node has no such group."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
