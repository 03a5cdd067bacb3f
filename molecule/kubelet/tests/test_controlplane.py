# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardened control plane node (node1), as its stand-in components run it; the worker (node2) untouched.

The stand-ins (lab/controlplane/) run each static pod's command line as the kubelet would run the
container, and refuse what the component refuses: a component that runs and answers its probe with
the hardened flags shows that the manifests, the files they name and the mounts fit together.
Everything is read on the node in one command (each command costs seconds under emulation).
"""

from __future__ import annotations

import json

import pytest

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
# What the role sets that kubeadm does not, per component.
HARDENED = {
    "kube-apiserver": {
        "profiling": "false",
        "audit-policy-file": "/etc/kubernetes/audit/policy.yaml",
        "audit-log-path": "/var/log/kubernetes/audit/audit.log",
        "audit-log-maxage": "30",
        "audit-log-maxbackup": "10",
        "audit-log-maxsize": "100",
        "authentication-config": "/etc/kubernetes/authn/authentication-config.yaml",
        "encryption-provider-config": "/etc/kubernetes/enc/encryption-config.yaml",
        "kubelet-certificate-authority": "/etc/kubernetes/pki/ca.crt",
        "service-account-extend-token-expiration": "false",
        "admission-control-config-file": "/etc/kubernetes/admission/admission-config.yaml",
    },
    "kube-controller-manager": {"profiling": "false", "terminated-pod-gc-threshold": "10"},
    "kube-scheduler": {"profiling": "false", "bind-address": "127.0.0.1"},
    "etcd": {"client-cert-auth": "true", "peer-client-cert-auth": "true"},
}
# Read on the node: the runner's status, the manifests, modes and owners, the API server's answers
# to anonymous requests (as the kubelet's probe makes them), the encryption configuration.
PROBE = r"""
import grp, json, os, pwd, ssl, urllib.error, urllib.request, yaml

def attributes(path):
    try:
        info = os.stat(path)
    except OSError:
        return None
    return [oct(info.st_mode & 0o777), pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name]

def ask(path):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        return urllib.request.urlopen("https://10.0.2.15:6443" + path, context=context, timeout=5).status
    except urllib.error.HTTPError as error:
        return error.code

manifests = "/etc/kubernetes/manifests"
state = {"exists": os.path.exists(manifests + "/kube-apiserver.yaml"), "authn": os.path.exists("/etc/kubernetes/authn")}
if state["exists"]:
    with open("/run/nodelab-static-pods/status.json") as handle:
        state["status"] = json.load(handle)
    state["entries"] = sorted(os.listdir(manifests))
    state["manifests"] = {}
    for name in state["entries"]:
        if name.endswith(".yaml"):
            with open(os.path.join(manifests, name)) as handle:
                state["manifests"][name] = [yaml.safe_load(handle), attributes(os.path.join(manifests, name))]
    state["answers"] = {path: ask(path) for path in ("/livez", "/readyz", "/healthz", "/api")}
    state["audit_log"] = os.path.isfile("/var/log/kubernetes/audit/audit.log")
    encryption = "/etc/kubernetes/enc/encryption-config.yaml"
    with open(encryption) as handle:
        state["encryption"] = [yaml.safe_load(handle), attributes(encryption)]
    backups = "/var/backups/nodeguard/manifests"
    state["backups"] = [attributes(backups), sorted(os.listdir(backups)), sorted(os.listdir(backups + "/moved"))]
    state["etcd_data"] = attributes("/var/lib/etcd")
    state["etcd_shell"] = pwd.getpwnam("etcd").pw_shell
    state["cni"] = {
        os.path.join(folder, name): attributes(os.path.join(folder, name))
        for top in ("/etc/cni/net.d", "/var/lib/cni/networks")
        for folder, _dirs, files in os.walk(top)
        for name in files
    }
print(json.dumps(state))
"""


@pytest.fixture(scope="module")
def control_plane(host) -> bool:
    return host.ansible.get_variables().get("nodeguard_node_role") == "control_plane"


@pytest.fixture(scope="module")
def state(host) -> dict:
    return json.loads(host.check_output("python3 -c %s", PROBE))


@pytest.fixture(scope="module")
def node(state, control_plane) -> dict:
    if not control_plane:
        pytest.skip("a worker")
    return state


def flags(command: list[str]) -> dict[str, str]:
    out = {}
    for word in command:
        if word.startswith("--"):
            name, _sep, value = word[2:].partition("=")
            out[name] = value
    return out


def test_a_worker_gets_nothing_of_the_control_plane(state, control_plane):
    if control_plane:
        pytest.skip("the control plane node")
    assert not state["exists"]
    assert not state["authn"]


def test_only_the_four_pods_are_in_the_manifests_directory(node):
    # .kubelet-keep is the kubelet package's own (empty, hidden: the kubelet skips it).
    assert [e for e in node["entries"] if e != ".kubelet-keep"] == [f"{name}.yaml" for name in COMPONENTS]
    assert node["status"]["errors"] == {}, node["status"]["errors"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_component_runs_its_hardened_manifest(node, component):
    pod = node["status"]["pods"][f"{component}.yaml"]
    manifest, attributes = node["manifests"][f"{component}.yaml"]
    command = manifest["spec"]["containers"][0]["command"]
    assert pod["state"] == "running", pod
    assert pod["command"][-len(command) + 1 :] == command[1:], pod
    running = flags(pod["command"])
    for name, value in HARDENED[component].items():
        assert running.get(name) == value, (component, name, running.get(name))
    assert attributes == ["0o600", "root", "root"]


def test_the_api_server_answers_anonymous_requests_on_health_endpoints_only(node):
    assert node["answers"] == {"/livez": 200, "/readyz": 200, "/healthz": 200, "/api": 401}


def test_the_audit_log_is_written_where_the_manifest_mounts_it(node):
    assert node["audit_log"]


def test_secrets_are_encrypted_with_a_key_only_root_reads(node):
    data, attributes = node["encryption"]
    assert attributes == ["0o600", "root", "root"]
    [group] = [g for g in data["resources"] if "secrets" in g["resources"]]
    assert next(iter(group["providers"][0])) == "secretbox"
    assert {"identity": {}} in group["providers"][1:]


def test_previous_manifests_are_kept_outside_the_manifests_directory(node):
    attributes, copies, moved = node["backups"]
    assert attributes[0] == "0o700"
    apiserver = [name for name in copies if name.startswith("kube-apiserver.yaml.")]
    assert 1 <= len(apiserver) <= 5, copies
    assert "kube-apiserver.yaml.bak" in moved


def test_etcd_data_is_etcds_own(node):
    assert node["etcd_data"] == ["0o700", "etcd", "etcd"]
    assert node["etcd_shell"] == "/usr/sbin/nologin"


def test_cni_files_only_root_reads(node):
    assert node["cni"]
    wrong = {path: attributes for path, attributes in node["cni"].items() if attributes != ["0o600", "root", "root"]}
    assert wrong == {}
