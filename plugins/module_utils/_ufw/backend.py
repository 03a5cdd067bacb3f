# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which iptables backend ufw writes to, and whether the Kubernetes data plane uses the same one.

ufw runs the C(iptables) the node's alternatives point at: C(xtables-nft-multi) (nft, Debian's
default) or C(xtables-legacy-multi) (legacy). kube-proxy and the CNIs pick their backend by where
rules already are. Two backends on one node mean two rulesets that do not see each other: ufw's
default deny would sit in one while the pods' accept rules sit in the other. The control reports
the chains of kube-proxy and the CNI (KUBE-, cali-, CILIUM_, FLANNEL) found in the other backend;
switching backends is the operator's decision (update-alternatives), never made by this run.
ufw itself only touches its own chains (ufw-*) while C(MANAGE_BUILTINS=no), so the chains of the
data plane survive it being enabled and reloaded.
"""

from __future__ import annotations

import os
import re

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

IPTABLES = "/usr/sbin/iptables"
DATA_PLANE = re.compile(r"^:(KUBE-|cali-|CILIUM_|FLANNEL)\S*", re.MULTILINE)
LEGACY_TABLES = "/proc/net/ip_tables_names"


def which(node: Node) -> str | None:
    """C(nft) or C(legacy): the backend C(iptables) resolves to; None without iptables."""
    path = node.path(IPTABLES)
    if not os.path.lexists(path):
        return None
    target = os.path.basename(os.path.realpath(path))
    if "legacy" in target:
        return "legacy"
    return "nft" if "nft" in target else None


def chains(node: Node, backend: str) -> list[str]:
    """The data plane's chains in BACKEND (IPv4), from its save tool; [] when it has no tables."""
    if backend == "legacy" and not (node.read(LEGACY_TABLES) or "").strip():
        return []
    tool = node.binary(f"iptables-{backend}-save")
    if tool is None:
        return []
    rc, out, _err = node.run([tool], check=False)
    if rc != 0:
        return []
    return sorted({match.group(0)[1:] for match in DATA_PLANE.finditer(out)})


def finding(node: Node) -> Finding:
    mine = which(node)
    if mine is None:
        return Finding(skipped=f"{IPTABLES} is not the nft or legacy iptables of Debian's alternatives")
    other = "legacy" if mine == "nft" else "nft"
    theirs = chains(node, other)
    details = {"backend": mine, f"{other}_data_plane_chains": theirs}
    if not theirs:
        return Finding(expected=mine, actual=mine, details=details)
    return Finding(
        expected=f"the data plane's chains in the {mine} backend ufw uses",
        actual=f"{len(theirs)} chain(s) in the {other} backend",
        differences=[c.difference("iptables backend", IPTABLES, mine, f"{other} ({', '.join(theirs[:5])})")],
        unfixable=(
            f"ufw writes to the {mine} backend but kube-proxy or the CNI keep their chains in the {other} one; "
            f"point iptables at one backend for both (update-alternatives --set iptables /usr/sbin/iptables-{other})"
        ),
        details=details,
    )
