# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel modules a node must not load (CIS 1.1.1.x, 3.2.x): C(install NAME /bin/false) and
C(blacklist NAME) in one managed modprobe.d file, and unloaded now if loaded."""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import write_action

PATH = "/etc/modprobe.d/nodeguard-hardening.conf"
HEADER = (
    "# Kernel modules this node must not load, for nodeguard.hardening. This file is replaced\n"
    "# on every run: change the role's variables, not this file.\n"
)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# What containers, pod networking and kube-proxy load: never switched off, whatever the input.
PROTECTED = frozenset(
    {"overlay", "br_netfilter", "bridge", "veth", "vxlan", "ip_tables", "ip6_tables", "x_tables", "nf_tables"}
)
PROTECTED_PREFIXES = ("nf_", "nft_", "xt_", "ip_vs", "iptable_", "ip6table_", "ipt_", "ip6t_")


def canonical(name: str) -> str:
    return name.replace("-", "_")


def lines_for(name: str) -> list[str]:
    return [f"install {name} /bin/false", f"blacklist {name}"]


class KmodOff(Family):
    name = "kmod_off"

    def validate(self, node: Node, control: dict, spec: t.Any) -> list[str]:
        cid = control["id"]
        modules = spec.get("modules") if isinstance(spec, dict) else None
        if not isinstance(modules, list) or not modules:
            raise c.ControlInputError(f"control {cid!r}: spec.modules must list kernel module names")
        for name in modules:
            if not isinstance(name, str) or not _NAME_RE.match(name):
                raise c.ControlInputError(f"control {cid!r}: {name!r} is not a kernel module name")
            plain = canonical(name)
            if plain in PROTECTED or plain.startswith(PROTECTED_PREFIXES):
                raise c.ControlInputError(
                    f"control {cid!r}: {name} is needed by containers, pod networking or kube-proxy; "
                    "it is never switched off"
                )
        return list(modules)

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        before = node.read(PATH)
        present = set((before or "").splitlines())
        blocks = [HEADER]
        for control, modules in items:
            body = [line for name in modules for line in lines_for(name)]
            blocks.append("\n".join([f"# {control['id']}: {control['title']}", *body]) + "\n")
        content = "\n".join(blocks)
        write = write_action(node, PATH, content) if before != content else None
        modprobe = node.binary("modprobe") or "modprobe"
        found = {}
        for control, modules in items:
            finding = Finding(expected=dict.fromkeys(modules, "off"), actual={})
            for name in modules:
                state = self._state(node, name)
                listed = all(line in present for line in lines_for(name))
                finding.actual[name] = state if listed else f"{state}, not in {PATH}"
                for line in lines_for(name):
                    if line not in present:
                        finding.differences.append(c.difference(name, PATH, line, None))
                if state == "built in":
                    finding.differences.append(c.difference(name, "live", "not loaded", state))
                    finding.unfixable = f"{name} is built into this kernel and cannot be unloaded"
                elif state == "loaded":
                    finding.differences.append(c.difference(name, "live", "not loaded", state))
                    finding.actions.append(self._unload(modprobe, node, name))
            if write and finding.differences:
                finding.actions.insert(0, write)
            found[control["id"]] = finding
        # A stale file (lines of controls no longer enabled) is rewritten with the first control.
        if write and items and not any(f.actions for f in found.values()):
            found[items[0][0]["id"]].actions.append(write)
            found[items[0][0]["id"]].differences += self._stale(before or "", content)
        return found

    @staticmethod
    def _stale(before: str, content: str) -> list[dict]:
        wanted = set(content.splitlines())
        extra = [line for line in before.splitlines() if line and not line.startswith("#") and line not in wanted]
        return [c.difference(PATH, "content", None, line) for line in extra] or [
            c.difference(PATH, "content", "as managed", "edited")
        ]

    @staticmethod
    def _state(node: Node, name: str) -> str:
        root = os.path.join(node.paths.module_root, canonical(name))
        if not os.path.isdir(root):
            return "not loaded"
        return "loaded" if os.path.exists(os.path.join(root, "initstate")) else "built in"

    @staticmethod
    def _unload(modprobe: str, node: Node, name: str) -> Action:
        return Action(
            f"unload:{name}",
            f"unload kernel module {name}",
            lambda: node.run([modprobe, "-r", name]),
            # Loading it back needs the install line out of the way.
            lambda: node.run([modprobe, "--ignore-install", name], check=False),
            [{"before_header": "loaded modules", "after_header": "loaded modules", "before": f"{name}\n", "after": ""}],
        )
