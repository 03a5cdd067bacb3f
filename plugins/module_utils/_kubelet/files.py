# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet's files (CIS Kubernetes 4.1): modes and owners, and whether kube-bench judges them.

C(kubelet_files) specs name a file by its role, C({file: service, mode: "0600", owner: root,
group: root}), found on the node: C(service) is the unit file and every drop-in systemd applies to
it (the package's drop-in under /usr/lib included, which kube-bench does not look at), and also
the file kube-bench takes for the service; C(config), C(kubeconfig) and C(client_ca) are the files
the kubelet's command line and configuration name, and kube-bench's choice where that is another
file; C(proxy_kubeconfig) is the kube-proxy kubeconfig kube-bench would judge, where one exists.
Modes and owners are then checked and set as the file_attributes family does.

C(kubelet_paths) (spec C({})) compares the files the kubelet really reads with the ones kube-bench
would judge: a difference means kube-bench reports on a stale or absent file.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import bench
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.config import Options
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.discovery import Kubelet, read_kubelet
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.file_attributes import FileAttributes, Spec
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

FILES = ("service", "config", "kubeconfig", "client_ca", "proxy_kubeconfig")
# kube-bench's substitution variable for each file role.
BENCH_VARIABLE = {
    "service": "kubeletsvc",
    "config": "kubeletconf",
    "kubeconfig": "kubeletkubeconfig",
    "client_ca": "kubeletcafile",
    "proxy_kubeconfig": "proxykubeconfig",
}


class KubeletFiles(FileAttributes):
    name = "kubelet_files"

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()

    def validate(self, node: Node, control: dict, spec: t.Any) -> tuple[str, Spec]:
        cid = control["id"]
        if not isinstance(spec, dict) or spec.get("file") not in FILES:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{file: ROLE, mode, owner, group}} with ROLE one of {', '.join(FILES)}"
            )
        rest = {key: value for key, value in spec.items() if key != "file"}
        if set(rest) - {"mode", "owner", "group"}:
            raise c.ControlInputError(f"control {cid!r}: a kubelet file spec takes file, mode, owner and group")
        return spec["file"], super().validate(node, control, {"paths": [f"/{spec['file']}"], **rest})

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        kubelet = read_kubelet(node, self.options.service, self.options.config_path)
        found: dict[str, Finding] = {}
        resolved = []
        for control, (role, spec) in items:
            if not kubelet.installed:
                found[control["id"]] = Finding(skipped=f"{self.options.service} is not installed on this node")
                continue
            paths = [p for p in paths_of(node, kubelet, role) if node.exists(p)]
            if not paths:
                found[control["id"]] = Finding(
                    skipped=f"no {role.replace('_', ' ')} file on this node",
                    details=bench.verdicts(node, kubelet, control),
                )
                continue
            resolved.append((control, Spec("paths", rule=spec.rule, patterns=tuple(paths), required=False)))
        for cid, finding in (super().inspect(node, resolved) if resolved else {}).items():
            control = next(ctl for ctl, _unused in resolved if ctl["id"] == cid)
            finding.details.update(bench.verdicts(node, kubelet, control))
            found[cid] = finding
        return found


def paths_of(node: Node, kubelet: Kubelet, role: str) -> list[str]:
    """The files of one role: the kubelet's own first, then kube-bench's choice where it differs."""
    own: list[str] = []
    if role == "service":
        own = kubelet.unit_files
    elif role == "config" and kubelet.config_path:
        own = [kubelet.config_path]
    elif role == "kubeconfig" and kubelet.kubeconfig:
        own = [kubelet.kubeconfig]
    elif role == "client_ca" and kubelet.client_ca:
        own = [kubelet.client_ca]
    theirs = kubelet.bench.get(BENCH_VARIABLE[role])
    if theirs and theirs.startswith("/") and node.exists(theirs) and not any(same_file(node, theirs, p) for p in own):
        own = [*own, theirs]
    return own


def same_file(node: Node, one: str | None, other: str | None) -> bool:
    """Whether two paths name the same file (kubespray's /etc/kubernetes/pki links to ssl/)."""
    if not one or not other:
        return one == other
    return one == other or os.path.realpath(node.path(one)) == os.path.realpath(node.path(other))


class KubeletPaths(Family):
    name = "kubelet_paths"

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        if spec not in (None, {}):
            raise c.ControlInputError(f"control {control['id']!r}: spec must be empty ({{}})")
        return {}

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        kubelet = read_kubelet(node, self.options.service, self.options.config_path)
        found = {}
        for control, _spec in items:
            if not kubelet.installed:
                found[control["id"]] = Finding(skipped=f"{self.options.service} is not installed on this node")
                continue
            own = {"config": kubelet.config_path, "kubeconfig": kubelet.kubeconfig, "client_ca": kubelet.client_ca}
            theirs = {role: kubelet.bench.get(BENCH_VARIABLE[role]) for role in own}
            finding = Finding(expected=own, actual=theirs)
            for role, path in own.items():
                if path and not same_file(node, theirs[role], path):
                    where = "exists" if node.exists(theirs[role]) else "does not exist"
                    finding.differences.append(
                        c.difference(
                            f"{role.replace('_', ' ')} kube-bench judges",
                            f"{theirs[role]} ({where})",
                            path,
                            theirs[role],
                        )
                    )
            if finding.differences:
                # Not a setting of the node this run could correct: reported, and left as it is.
                finding.kept = (
                    "kube-bench would judge other files than the kubelet reads; remove stale files, or run "
                    "kube-bench with a configuration whose lists name the kubelet's files"
                )
            found[control["id"]] = finding
        return found
