# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kube-proxy's metrics bound to localhost (CIS Kubernetes 4.3.1).

Spec: C({metrics_bind_address: "127.0.0.1:10249"}). kube-proxy's configuration is read from a file
on the node (the module's C(kube_proxy_config), else the C(--config) of a kube-proxy process
running on the host), or from the kube-proxy ConfigMap content the user passes in
(C(kube_proxy_configmap): the ConfigMap itself or its C(config.conf)). A C(--metrics-bind-address)
flag of a running kube-proxy beats the file. The address must be written and bound to a loopback
address (an empty value only means kube-proxy's default). A file on the node is corrected in place;
kube-proxy reads it when it restarts (a C(kube-proxy.service) that runs is restarted). A ConfigMap
lives in the cluster, not on the node: it is judged and reported, never changed here.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import file_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import bench, restart, yamldoc
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.config import Options
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.discovery import (
    KubeletInputError,
    processes,
    read_kubelet,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

PROXY_SERVICE = "kube-proxy.service"


@dataclass(frozen=True)
class ProxyOptions:
    config: str | None = None
    configmap: str | None = None


def loopback(address: t.Any) -> bool:
    """Whether HOST:PORT binds to a loopback address only."""
    if not isinstance(address, str) or ":" not in address:
        return False
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def configmap_block(text: str) -> str | None:
    """The C(config.conf) of a ConfigMap as C(kubectl get -o yaml) prints it (a literal block
    scalar, which the configuration reader does not take), dedented; None for any other text."""
    lines = text.splitlines()
    if not any(re.match(r"^kind:\s*ConfigMap\s*$", line) for line in lines):
        return None
    for index, line in enumerate(lines):
        match = re.match(r"^(\s+)config\.conf:\s*\|[-+]?\s*$", line)
        if not match:
            continue
        block = []
        for following in lines[index + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= len(match.group(1)):
                break
            block.append(following)
        while block and not block[-1].strip():
            block.pop()
        indent = min((len(b) - len(b.lstrip()) for b in block if b.strip()), default=0)
        return "\n".join(b[indent:] for b in block) + "\n"
    return None


class KubeProxy(Family):
    name = "kube_proxy"

    def __init__(self, options: Options | None = None, proxy: ProxyOptions | None = None) -> None:
        self.options = options or Options()
        self.proxy = proxy or ProxyOptions()

    def validate(self, node: Node, control: dict, spec: t.Any) -> str:
        address = spec.get("metrics_bind_address") if isinstance(spec, dict) and len(spec) == 1 else None
        if not loopback(address):
            raise c.ControlInputError(
                f"control {control['id']!r}: spec must be {{metrics_bind_address: HOST:PORT}} with a loopback HOST, "
                f"such as 127.0.0.1:10249; got {spec!r}"
            )
        return address

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        kubelet = read_kubelet(node, self.options.service, self.options.config_path)
        running = processes(node, "kube-proxy")
        flag = next((w for p in running for w in p.argv if w.startswith("--metrics-bind-address")), None)
        source, path, text = self._source(node, running)
        found = {}
        for control, want in items:
            details = bench.verdicts(node, kubelet, control) if kubelet.installed else {}
            if text is None:
                found[control["id"]] = Finding(
                    skipped="no kube-proxy configuration on this node (give kubelet_kube_proxy_config or the "
                    "kube-proxy ConfigMap in kubelet_kube_proxy_configmap)",
                    details=details,
                )
                continue
            data = self._config(source, text)
            have = data.get("metricsBindAddress") if isinstance(data, dict) else None
            finding = Finding(expected=want, actual=have, details={**details, "source": source})
            if have != want and not (have and loopback(have) and have.rsplit(":", 1)[-1] == want.rsplit(":", 1)[-1]):
                finding.differences.append(c.difference("metricsBindAddress", source, want, have or None))
                if path is None:
                    finding.unfixable = (
                        "the kube-proxy ConfigMap lives in the cluster; set metricsBindAddress to "
                        f"{want} in kube-system/kube-proxy and restart kube-proxy"
                    )
                else:
                    finding.actions.append(self._action(node, path, text, want))
            if flag and not loopback(flag.partition("=")[2]):
                finding.differences.append(
                    c.difference("--metrics-bind-address", "kube-proxy command line", want, flag)
                )
                finding.unfixable = "a running kube-proxy's --metrics-bind-address flag beats its file; remove the flag"
            found[control["id"]] = finding
        return found

    def _source(self, node: Node, running: list[t.Any]) -> tuple[str, str | None, str | None]:
        if self.proxy.config:
            return self.proxy.config, self.proxy.config, node.read(self.proxy.config)
        if self.proxy.configmap is not None:
            return "the kube-proxy ConfigMap given", None, self.proxy.configmap
        for process in running:
            config = next((w.split("=", 1)[1] for w in process.argv if w.startswith("--config=")), None)
            if config:
                # A containerised kube-proxy names a path in its own mount namespace.
                inside = f"/proc/{process.pid}/root{config}"
                return f"{config} of kube-proxy (pid {process.pid})", None, node.read(inside)
        return "", None, None

    @staticmethod
    def _config(source: str, text: str) -> t.Any:
        inner = configmap_block(text)
        if inner is not None:
            text = inner
        try:
            data = yamldoc.load(text)
            if isinstance(data, dict) and data.get("kind") == "ConfigMap":
                inner = (data.get("data") or {}).get("config.conf")
                if not isinstance(inner, str):
                    raise KubeletInputError(f"{source}: the ConfigMap has no data.config.conf")
                data = yamldoc.load(inner)
        except yamldoc.YamlError as exc:
            raise KubeletInputError(f"{source} cannot be read: {exc}; nothing was changed") from exc
        if data is not None and not isinstance(data, dict):
            raise KubeletInputError(f"{source} is not a KubeProxyConfiguration mapping; nothing was changed")
        return data or {}

    def _action(self, node: Node, path: str, text: str, want: str) -> Action:
        try:
            new = yamldoc.set_values(text, {("metricsBindAddress",): want})
        except yamldoc.YamlError as exc:
            raise KubeletInputError(f"{path} cannot be changed in place: {exc}; nothing was changed") from exc
        _rc, out, _err = node.run(["systemctl", "show", PROXY_SERVICE, "--property=ActiveState"], check=False)
        active = out.strip() == "ActiveState=active"
        change = restart.Change(
            node, PROXY_SERVICE, files={path: new}, restart=active, timeout=self.options.restart_timeout
        )
        what = f"write {path}" + (
            f" and restart {PROXY_SERVICE}" if active else " (kube-proxy reads it when it restarts)"
        )
        return Action(f"kube-proxy:{path}", what, change.run, change.undo, [file_diff(path, text, new)])
