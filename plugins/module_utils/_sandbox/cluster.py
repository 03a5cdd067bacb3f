# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster's side of a sandbox runtime, through kubectl on the node: RuntimeClasses and a node label.

Spec: C({kubectl: kubectl, kubeconfig: /etc/kubernetes/admin.conf, runtimeclasses: [RuntimeClass
objects], node: NAME, labels: {key: value}}). Where kubectl or the
kubeconfig is missing the control is skipped with that reason (a worker has no admin
credentials). Otherwise each RuntimeClass is read with C(kubectl get) and applied when its handler,
overhead or scheduling differ, and the node's labels are set with C(kubectl label --overwrite).
"""

from __future__ import annotations

import copy
import json
import re
import typing as t
from decimal import Decimal

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
LABEL_KEY = re.compile(r"^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$")
QUANTITY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
SUFFIXES = {"m": Decimal("0.001"), "": Decimal(1)}
SUFFIXES.update({s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")})
SUFFIXES.update({s + "i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")})


def _amount(text: t.Any) -> t.Any:
    """A quantity as a number (250m and 0.25 alike, as the API server canonicalises them)."""
    match = QUANTITY.match(str(text))
    return Decimal(match.group(1)) * SUFFIXES[match.group(3) or ""] if match else text


def _comparable(runtimeclass: dict) -> dict:
    """Handler, overhead and scheduling of a RuntimeClass, with quantities as numbers."""
    out = {key: copy.deepcopy(runtimeclass.get(key)) for key in ("handler", "overhead", "scheduling")}
    fixed = (out.get("overhead") or {}).get("podFixed")
    if isinstance(fixed, dict):
        out["overhead"]["podFixed"] = {key: _amount(item) for key, item in fixed.items()}
    return out


def _check_labels(cid: str, labels: t.Any, what: str) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise c.ControlInputError(f"control {cid!r}: {what} must map label keys to values")
    for key, item in labels.items():
        if not isinstance(key, str) or not LABEL_KEY.match(key):
            raise c.ControlInputError(f"control {cid!r}: {key!r} in {what} is not a Kubernetes label key")
        if not isinstance(item, str) or not LABEL_VALUE.match(item):
            raise c.ControlInputError(
                f"control {cid!r}: {what}[{key}] must be a label value (a quoted string of at most 63 letters, "
                f"digits, - _ .), got {item!r}"
            )
    return dict(labels)


def _check_runtimeclass(cid: str, body: t.Any) -> dict:
    """A RuntimeClass object (node.k8s.io/v1) with a handler, and overhead and scheduling if any."""
    if not isinstance(body, dict) or body.get("apiVersion") != "node.k8s.io/v1" or body.get("kind") != "RuntimeClass":
        raise c.ControlInputError(f"control {cid!r}: every runtimeclasses entry must be a node.k8s.io/v1 RuntimeClass")
    name = (body.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not DNS_SUBDOMAIN.match(name):
        raise c.ControlInputError(f"control {cid!r}: RuntimeClass name {name!r} is not a DNS subdomain")
    unknown = sorted(set(body) - {"apiVersion", "kind", "metadata", "handler", "overhead", "scheduling"})
    if unknown:
        raise c.ControlInputError(f"control {cid!r}: RuntimeClass {name}: unknown fields {', '.join(unknown)}")
    if not isinstance(body.get("handler"), str) or not DNS_LABEL.match(body["handler"]):
        raise c.ControlInputError(
            f"control {cid!r}: RuntimeClass {name}: handler {body.get('handler')!r} is not a DNS label"
        )
    fixed = (body.get("overhead") or {}).get("podFixed") or {}
    if not isinstance(fixed, dict) or any(
        key not in ("cpu", "memory") or not QUANTITY.match(str(item)) for key, item in fixed.items()
    ):
        raise c.ControlInputError(
            f"control {cid!r}: RuntimeClass {name}: overhead.podFixed takes cpu and memory quantities "
            "such as 250m and 160Mi"
        )
    selector = (body.get("scheduling") or {}).get("nodeSelector")
    _check_labels(cid, selector, f"RuntimeClass {name} scheduling.nodeSelector")
    return body


class Cluster(Family):
    name = "cluster"

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        cid = control["id"]
        if not isinstance(spec, dict):
            raise c.ControlInputError(f"control {cid!r}: spec must be a mapping (kubeconfig, runtimeclasses, labels)")
        unknown = sorted(set(spec) - {"kubectl", "kubeconfig", "node", "labels", "runtimeclasses"})
        if unknown:
            raise c.ControlInputError(
                f"control {cid!r}: unknown spec keys {', '.join(unknown)} (known: kubectl, kubeconfig, node, labels, "
                "runtimeclasses)"
            )
        if not isinstance(spec.get("kubectl", "kubectl"), str) or not spec.get("kubectl", "kubectl"):
            raise c.ControlInputError(f"control {cid!r}: kubectl must be a command name or an absolute path")
        out = {
            "kubectl": spec.get("kubectl", "kubectl"),
            "kubeconfig": spec.get("kubeconfig", "/etc/kubernetes/admin.conf"),
            "node": spec.get("node"),
            "labels": _check_labels(cid, spec.get("labels"), "labels"),
            "runtimeclasses": [],
        }
        if not isinstance(out["kubeconfig"], str) or not out["kubeconfig"].startswith("/"):
            raise c.ControlInputError(f"control {cid!r}: kubeconfig must be an absolute path")
        if out["labels"] and not (isinstance(out["node"], str) and DNS_SUBDOMAIN.match(out["node"])):
            raise c.ControlInputError(f"control {cid!r}: labels need node, the node's name in the cluster")
        for entry in spec.get("runtimeclasses") or []:
            out["runtimeclasses"].append(_check_runtimeclass(cid, entry))
        return out

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        return {control["id"]: self._inspect(node, spec) for control, spec in items}

    def _inspect(self, node: Node, spec: dict) -> Finding:
        kubectl = node.binary(spec["kubectl"]) if "/" not in spec["kubectl"] else spec["kubectl"]
        wanted = {"runtimeclasses": spec["runtimeclasses"], "labels": spec["labels"]}
        if not kubectl or not node.exists(kubectl):
            return Finding(expected=wanted, skipped=f"kubectl is not installed on this node ({spec['kubectl']})")
        if not node.exists(spec["kubeconfig"]):
            return Finding(
                expected=wanted,
                skipped=f"no kubeconfig at {spec['kubeconfig']} on this node "
                "(the cluster's side is applied where cluster credentials are)",
            )
        base = [kubectl, "--kubeconfig", node.path(spec["kubeconfig"])]
        finding = Finding(expected=wanted, actual={"runtimeclasses": [], "labels": {}})
        try:
            for body in wanted["runtimeclasses"]:
                self._runtimeclass(node, base, body, finding)
            if spec["labels"]:
                self._labels(node, base, spec, finding)
        except (CommandError, ValueError) as exc:
            finding.differences.append(c.difference("cluster", spec["kubeconfig"], "reachable", str(exc)))
            finding.unfixable = f"kubectl cannot read the cluster: {exc}"
            finding.actions = []
        return finding

    @staticmethod
    def _runtimeclass(node: Node, base: list[str], body: dict, finding: Finding) -> None:
        name = body["metadata"]["name"]
        rc, out, err = node.run([*base, "get", "runtimeclass", name, "-o", "json"], check=False)
        if rc != 0 and "NotFound" not in err and "not found" not in err:
            raise CommandError(f"kubectl get runtimeclass {name} failed: {err.strip()}")
        current = json.loads(out) if rc == 0 else None
        shown = {key: current.get(key) for key in ("handler", "overhead", "scheduling")} if current else None
        want = {key: body.get(key) for key in ("handler", "overhead", "scheduling")}
        finding.actual["runtimeclasses"].append({"name": name, **(shown or {})} if shown else None)
        if current is None or _comparable(current) != _comparable(body):
            finding.differences.append(c.difference(f"RuntimeClass {name}", "cluster", want, shown))
            text = json.dumps(body)
            finding.actions.append(
                Action(
                    f"runtimeclass:{name}",
                    f"kubectl apply RuntimeClass {name} (handler {body['handler']})",
                    lambda: node.run([*base, "apply", "-f", "-"], data=text) and None,
                    None,
                    [
                        {
                            "before_header": f"RuntimeClass {name}",
                            "after_header": f"RuntimeClass {name}",
                            "before": json.dumps(shown, indent=2) + "\n" if shown else "",
                            "after": json.dumps(want, indent=2) + "\n",
                        }
                    ],
                )
            )

    @staticmethod
    def _labels(node: Node, base: list[str], spec: dict, finding: Finding) -> None:
        _rc, out, _err = node.run([*base, "get", "node", spec["node"], "-o", "json"])
        labels = (json.loads(out).get("metadata") or {}).get("labels") or {}
        finding.actual["labels"] = {key: labels.get(key) for key in spec["labels"]}
        wrong = {key: item for key, item in spec["labels"].items() if labels.get(key) != item}
        if wrong:
            finding.differences += [
                c.difference(f"label {key}", f"node {spec['node']}", item, labels.get(key))
                for key, item in wrong.items()
            ]
            argv = [*base, "label", "node", spec["node"], "--overwrite", *(f"{k}={v}" for k, v in wrong.items())]
            finding.actions.append(
                Action(
                    f"labels:{spec['node']}",
                    f"label node {spec['node']}: {', '.join(f'{k}={v}' for k, v in wrong.items())}",
                    lambda: node.run(argv) and None,
                )
            )
