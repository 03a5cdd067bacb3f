# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The cluster family through a scripted kubectl: skipped without kubectl or credentials,
RuntimeClasses applied as JSON on standard input, node labels, refused input."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import cluster
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import control
from .conftest import FakeKubectl, StdinModule

KUBECTL = "/usr/sbin/kubectl"
ADMIN = "/etc/kubernetes/admin.conf"
CID = "k8s.sandbox.runtimeclasses"
GVISOR = {
    "apiVersion": "node.k8s.io/v1",
    "kind": "RuntimeClass",
    "metadata": {"name": "gvisor"},
    "handler": "runsc",
    "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}},
    "scheduling": {"nodeSelector": {"sandbox.nodeguard.io/gvisor": "true"}},
}
KATA = {
    "apiVersion": "node.k8s.io/v1",
    "kind": "RuntimeClass",
    "metadata": {"name": "kata"},
    "handler": "kata",
}
LABELS = {"sandbox.nodeguard.io/gvisor": "true", "sandbox.nodeguard.io/kata": "false"}


def wanted(body):
    return {key: body.get(key) for key in ("handler", "overhead", "scheduling")}


def spec(**changes):
    return {"runtimeclasses": [GVISOR], **changes}


class Run:
    def __init__(self, tree, spec_, *, kubectl=None, check_mode=False):
        self.module = StdinModule([control(CID, "cluster", spec_)], check_mode=check_mode)
        self.kubectl = kubectl or FakeKubectl(self.module)
        self.kubectl.module = self.module
        self.module.commands["kubectl"] = self.kubectl
        self.base = [KUBECTL, "--kubeconfig", str(tree.file(ADMIN))]
        self.result = engine.run(self.module, tree.node(self.module), [cluster.Cluster()])
        self.entry = self.result["controls"][0]

    @property
    def status(self):
        return self.entry["status"]


@pytest.fixture
def admin(tree):
    """A control-plane node: kubectl and the admin kubeconfig are there."""
    tree.write(KUBECTL, "", 0o755)
    tree.write(ADMIN, "apiVersion: v1\nkind: Config\n", 0o600)
    return tree


def test_without_kubectl_the_control_is_skipped(tree):
    tree.write(ADMIN, "apiVersion: v1\n")
    run = Run(tree, spec())
    assert run.status == "skipped"
    assert run.entry["reason"] == "kubectl is not installed on this node (kubectl)"
    assert run.entry["expected"] == {"runtimeclasses": [GVISOR], "labels": {}}
    assert run.module.calls == []


def test_a_kubectl_not_on_the_path_is_skipped_too(tree):
    tree.write(KUBECTL, "", 0o755)
    tree.write(ADMIN, "apiVersion: v1\n")
    module = StdinModule([control(CID, "cluster", spec())])
    module.get_bin_path = lambda name, required=False, opt_dirs=None: None
    result = engine.run(module, tree.node(module), [cluster.Cluster()])
    assert result["controls"][0]["status"] == "skipped"
    assert result["controls"][0]["reason"] == "kubectl is not installed on this node (kubectl)"
    assert module.calls == []


def test_a_kubectl_given_by_path_must_exist_there(admin):
    run = Run(admin, spec(kubectl="/opt/k8s/bin/kubectl"))
    assert run.status == "skipped"
    assert run.entry["reason"] == "kubectl is not installed on this node (/opt/k8s/bin/kubectl)"


def test_without_a_kubeconfig_the_control_is_skipped(tree):
    tree.write(KUBECTL, "", 0o755)
    run = Run(tree, spec(labels=LABELS, node="worker-1"))
    assert run.status == "skipped"
    assert run.entry["reason"] == (
        f"no kubeconfig at {ADMIN} on this node (the cluster's side is applied where cluster credentials are)"
    )
    assert run.module.calls == []


def test_a_missing_runtimeclass_is_applied_as_json_on_standard_input(admin):
    check = Run(admin, spec(), check_mode=True)
    assert check.status == "drift"
    assert check.entry["differences"] == [
        {"item": "RuntimeClass gvisor", "where": "cluster", "expected": wanted(GVISOR), "actual": None}
    ]
    assert check.result["actions"] == ["kubectl apply RuntimeClass gvisor (handler runsc)"]
    assert check.module.calls == [[*check.base, "get", "runtimeclass", "gvisor", "-o", "json"]]

    run = Run(admin, spec())
    assert run.status == "fixed"
    applies = [(argv, data) for argv, data in run.module.stdin if argv[3:] == ["apply", "-f", "-"]]
    assert len(applies) == 1
    assert applies[0][0] == [*run.base, "apply", "-f", "-"]
    assert json.loads(applies[0][1]) == GVISOR
    assert run.kubectl.runtimeclasses["gvisor"] == GVISOR
    (diff,) = run.result["diff"]
    assert diff["before"] == ""
    assert json.loads(diff["after"]) == wanted(GVISOR)
    assert run.entry["actual"] == {"runtimeclasses": [{"name": "gvisor", **wanted(GVISOR)}], "labels": {}}

    again = Run(admin, spec(), kubectl=run.kubectl)
    assert again.status == "pass"
    assert again.result["actions"] == []
    assert [argv[3] for argv in again.module.calls] == ["get"]


def test_a_runtimeclass_as_wanted_passes(admin):
    module = StdinModule([])
    kubectl = FakeKubectl(module, runtimeclasses={"gvisor": copy.deepcopy(GVISOR), "kata": copy.deepcopy(KATA)})
    run = Run(admin, spec(runtimeclasses=[GVISOR, KATA]), kubectl=kubectl)
    assert run.status == "pass"
    assert run.result["changed"] is False
    assert run.module.calls == [
        [*run.base, "get", "runtimeclass", "gvisor", "-o", "json"],
        [*run.base, "get", "runtimeclass", "kata", "-o", "json"],
    ]
    assert run.entry["actual"]["runtimeclasses"] == [
        {"name": "gvisor", **wanted(GVISOR)},
        {"name": "kata", "handler": "kata", "overhead": None, "scheduling": None},
    ]


@pytest.mark.parametrize(
    ("change", "item"),
    [
        ({"handler": "runsc-kvm"}, "handler"),
        ({"overhead": {"podFixed": {"cpu": "100m", "memory": "160Mi"}}}, "overhead"),
        ({"scheduling": None}, "scheduling"),
    ],
)
def test_a_runtimeclass_that_differs_is_applied_again(admin, change, item):
    module = StdinModule([])
    kubectl = FakeKubectl(module, runtimeclasses={"gvisor": {**copy.deepcopy(GVISOR), **change}})
    run = Run(admin, spec(), kubectl=kubectl)
    assert run.status == "fixed"
    (difference,) = run.entry["differences"]
    assert difference["expected"] == wanted(GVISOR)
    assert difference["actual"][item] == change[item]
    assert kubectl.runtimeclasses["gvisor"] == GVISOR
    assert json.loads(run.result["diff"][0]["before"])[item] == change[item]


def test_only_the_labels_that_differ_are_set_with_overwrite(admin):
    module = StdinModule([])
    kubectl = FakeKubectl(
        module,
        runtimeclasses={"gvisor": copy.deepcopy(GVISOR)},
        labels={"worker-1": {"kubernetes.io/hostname": "worker-1", "sandbox.nodeguard.io/kata": "false"}},
    )
    run = Run(admin, spec(labels=LABELS, node="worker-1"), kubectl=kubectl)
    assert run.status == "fixed"
    assert [
        *run.base,
        "label",
        "node",
        "worker-1",
        "--overwrite",
        "sandbox.nodeguard.io/gvisor=true",
    ] in run.module.calls
    assert run.entry["differences"] == [
        {"item": "label sandbox.nodeguard.io/gvisor", "where": "node worker-1", "expected": "true", "actual": None}
    ]
    assert run.result["actions"] == ["label node worker-1: sandbox.nodeguard.io/gvisor=true"]
    assert kubectl.labels["worker-1"] == {"kubernetes.io/hostname": "worker-1", **LABELS}
    assert run.entry["actual"]["labels"] == LABELS

    again = Run(admin, spec(labels=LABELS, node="worker-1"), kubectl=kubectl)
    assert again.status == "pass"
    assert [argv[3:5] for argv in again.module.calls] == [["get", "runtimeclass"], ["get", "node"]]


def test_a_label_with_another_value_is_overwritten(admin):
    module = StdinModule([])
    kubectl = FakeKubectl(module, labels={"worker-1": {"sandbox.nodeguard.io/gvisor": "false"}})
    run = Run(admin, {"labels": {"sandbox.nodeguard.io/gvisor": "true"}, "node": "worker-1"}, kubectl=kubectl)
    assert run.status == "fixed"
    assert run.entry["differences"] == [
        {"item": "label sandbox.nodeguard.io/gvisor", "where": "node worker-1", "expected": "true", "actual": "false"}
    ]
    assert kubectl.labels["worker-1"] == {"sandbox.nodeguard.io/gvisor": "true"}


@pytest.mark.parametrize(
    ("kubectl_state", "reason"),
    [
        ("unreachable", "kubectl cannot read the cluster: kubectl get runtimeclass gvisor failed: The connection"),
        ("no-node", "kubectl cannot read the cluster: /usr/sbin/kubectl --kubeconfig"),
    ],
)
def test_a_cluster_that_cannot_be_read_is_an_error(admin, kubectl_state, reason):
    module = StdinModule([])
    kubectl = FakeKubectl(module, runtimeclasses={"gvisor": copy.deepcopy(GVISOR)})
    kubectl.unreachable = kubectl_state == "unreachable"
    run = Run(admin, spec(labels=LABELS, node="worker-9"), kubectl=kubectl)
    assert run.status == "error"
    assert run.entry["reason"].startswith(reason)
    assert run.result["actions"] == []
    assert [argv for argv in run.module.calls if argv[3] in ("apply", "label")] == []


@pytest.mark.parametrize(
    ("spec_", "message"),
    [
        ("gvisor", "spec must be a mapping (kubeconfig, runtimeclasses, labels)"),
        ({"kubeconfig": "admin.conf"}, "kubeconfig must be an absolute path"),
        ({"labels": ["a=b"], "node": "worker-1"}, "labels must map label keys to values"),
        ({"labels": {"sandbox": True}, "node": "worker-1"}, "labels[sandbox] must be a label value"),
        ({"labels": {"sandbox": "has space"}, "node": "worker-1"}, "labels[sandbox] must be a label value"),
        ({"labels": {"sandbox": "x" * 64}, "node": "worker-1"}, "labels[sandbox] must be a label value"),
        ({"labels": {"sandbox": "-lead"}, "node": "worker-1"}, "got '-lead'"),
        (
            {"labels": {"Sandbox.IO/x": "true"}, "node": "worker-1"},
            "'Sandbox.IO/x' in labels is not a Kubernetes label key",
        ),
        ({"labels": {"a/b/c": "true"}, "node": "worker-1"}, "'a/b/c' in labels is not a Kubernetes label key"),
        ({"labels": {"sandbox": "true"}}, "labels need node, the node's name in the cluster"),
        ({"labels": {"sandbox": "true"}, "node": "Worker_1"}, "labels need node"),
        (
            {"runtimeclasses": [{**GVISOR, "apiVersion": "node.k8s.io/v1beta1"}]},
            "every runtimeclasses entry must be a node.k8s.io/v1 RuntimeClass",
        ),
        ({"runtimeclasses": [{**GVISOR, "kind": "Pod"}]}, "must be a node.k8s.io/v1 RuntimeClass"),
        (
            {"runtimeclasses": [{**GVISOR, "metadata": {"name": "GVisor"}}]},
            "RuntimeClass name 'GVisor' is not a DNS subdomain",
        ),
        ({"runtimeclasses": [{**GVISOR, "metadata": {}}]}, "RuntimeClass name None is not a DNS subdomain"),
        ({"runtimeclasses": [{**GVISOR, "spec": {}}]}, "RuntimeClass gvisor: unknown fields spec"),
        (
            {"runtimeclasses": [{**GVISOR, "handler": "run_sc"}]},
            "RuntimeClass gvisor: handler 'run_sc' is not a DNS label",
        ),
        ({"runtimeclasses": [{**GVISOR, "handler": None}]}, "handler None is not a DNS label"),
        (
            {"runtimeclasses": [{**GVISOR, "overhead": {"podFixed": {"cpu": "250 m"}}}]},
            "overhead.podFixed takes cpu and memory quantities such as 250m and 160Mi",
        ),
        (
            {"runtimeclasses": [{**GVISOR, "overhead": {"podFixed": {"cpu": "lots"}}}]},
            "overhead.podFixed takes cpu and memory",
        ),
        (
            {"runtimeclasses": [{**GVISOR, "overhead": {"podFixed": {"memory": "160MB"}}}]},
            "overhead.podFixed takes cpu and memory",
        ),
        (
            {"runtimeclasses": [{**GVISOR, "overhead": {"podFixed": {"nvidia.com/gpu": "1"}}}]},
            "overhead.podFixed takes cpu and memory",
        ),
        (
            {"runtimeclasses": [{**GVISOR, "overhead": {"podFixed": ["250m"]}}]},
            "overhead.podFixed takes cpu and memory",
        ),
        (
            {"runtimeclasses": [{**GVISOR, "scheduling": {"nodeSelector": {"sandbox": "yes please"}}}]},
            "RuntimeClass gvisor scheduling.nodeSelector[sandbox] must be a label value",
        ),
    ],
)
def test_bad_input_is_refused_before_kubectl_runs(admin, spec_, message):
    module = StdinModule([control(CID, "cluster", spec_)])
    FakeKubectl(module)
    with pytest.raises(ControlInputError) as error:
        engine.run(module, admin.node(module), [cluster.Cluster()])
    assert str(error.value).startswith(f"control {CID!r}: ")
    assert message in str(error.value)
    assert module.calls == []


@pytest.mark.parametrize("quantity", ["250m", "0.25", "1", "160Mi", "1.5Gi", "2G", "512k"])
def test_quantities_such_as_kubernetes_writes_them_are_taken(quantity):
    body = {**GVISOR, "overhead": {"podFixed": {"cpu": quantity}}}
    assert cluster.Cluster().validate(None, {"id": CID}, {"runtimeclasses": [body]})["runtimeclasses"] == [body]


def test_validate_fills_in_the_defaults():
    assert cluster.Cluster().validate(None, {"id": CID}, {}) == {
        "kubectl": "kubectl",
        "kubeconfig": "/etc/kubernetes/admin.conf",
        "node": None,
        "labels": {},
        "runtimeclasses": [],
    }


@pytest.mark.parametrize("spec_", [{"runtimeClasses": [GVISOR]}, {"label": {"sandbox": "true"}, "node": "worker-1"}])
def test_unknown_spec_keys_are_refused(admin, spec_):
    module = StdinModule([control(CID, "cluster", spec_)])
    FakeKubectl(module)
    with pytest.raises(ControlInputError, match="unknown"):
        engine.run(module, admin.node(module), [cluster.Cluster()])


def test_a_quantity_the_api_server_spells_otherwise_is_not_applied_again(admin):
    body = {**GVISOR, "overhead": {"podFixed": {"cpu": "0.25", "memory": "160Mi"}}}
    module = StdinModule([])
    kubectl = FakeKubectl(module)
    kubectl.canonical = {"0.25": "250m"}
    run = Run(admin, {"runtimeclasses": [body]}, kubectl=kubectl)
    assert kubectl.runtimeclasses["gvisor"]["overhead"]["podFixed"]["cpu"] == "250m"
    assert run.status == "fixed"
    again = Run(admin, {"runtimeclasses": [body]}, kubectl=kubectl)
    assert again.status == "pass"
