# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""kube-bench's verdict on a control's checks, judged on the node as it is now (kubebench.py).

A control names its CIS Kubernetes checks in C(benchmarks); each result carries, per check, the
state kube-bench would report on the same node, next to the control's own (stricter) status.
"""

from __future__ import annotations

import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import kubebench, yamldoc
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.discovery import NodeView
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

BENCHMARK_PREFIX = "CIS Kubernetes"


def checks(control: dict) -> list[str]:
    """The kube-bench check ids a control implements (its CIS Kubernetes sections)."""
    return [
        entry["section"]
        for entry in control.get("benchmarks") or []
        if str(entry.get("benchmark", "")).startswith(BENCHMARK_PREFIX) and entry.get("section") in kubebench.CHECKS
    ]


def verdicts(node: Node, kubelet: t.Any, control: dict) -> dict[str, t.Any]:
    """C({kube_bench: [{check, state, expected, actual, source}]}) for the control's checks."""
    ids = checks(control)
    if not ids:
        return {}
    view = NodeView(node)
    found = []
    for cid in ids:
        verdict = kubebench.judge(cid, view, kubelet.bench, parse=yamldoc.load)
        found.append(
            {
                "check": cid,
                "state": verdict.state,
                "expected": verdict.expected,
                "actual": verdict.actual,
                "source": verdict.source,
            }
        )
    missing = kubebench.binaries_error(kubelet.bench)
    return {"kube_bench": found, "kube_bench_note": missing} if missing else {"kube_bench": found}
