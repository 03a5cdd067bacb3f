# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardened control plane node (node1), as its stand-in components run it; the worker (node2) untouched.

The stand-ins (lab/controlplane/) run each static pod's command line as the kubelet would run the
container, and refuse what the component refuses: a component that runs and answers its probe with
the hardened flags shows that the manifests, the files they name and the mounts fit together.
"""

from __future__ import annotations

import json

import pytest
import yaml

MANIFESTS = "/etc/kubernetes/manifests"
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
STATUS = "/run/nodelab-static-pods/status.json"
BACKUPS = "/var/backups/nodeguard/manifests"
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
# Anonymous requests as the kubelet's probe makes them, from the node itself.
ASK = """
import ssl, sys, urllib.error, urllib.request
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
try:
    print(urllib.request.urlopen(sys.argv[1], context=context, timeout=5).status)
except urllib.error.HTTPError as error:
    print(error.code)
"""


@pytest.fixture(scope="module")
def control_plane(host) -> bool:
    return host.ansible.get_variables().get("nodeguard_node_role") == "control_plane"


@pytest.fixture(scope="module")
def pods(host, control_plane) -> dict:
    if not control_plane:
        pytest.skip("a worker")
    return json.loads(host.file(STATUS).content_string)


def flags(command: list[str]) -> dict[str, str]:
    out = {}
    for word in command:
        if word.startswith("--"):
            name, _sep, value = word[2:].partition("=")
            out[name] = value
    return out


def test_only_the_four_pods_are_in_the_manifests_directory(host, control_plane):
    if not control_plane:
        assert not host.file(f"{MANIFESTS}/kube-apiserver.yaml").exists
        assert not host.file("/etc/kubernetes/authn").exists
        return
    # .kubelet-keep is the kubelet package's own (empty, hidden: the kubelet skips it).
    entries = set(host.file(MANIFESTS).listdir()) - {".kubelet-keep"}
    assert sorted(entries) == [f"{name}.yaml" for name in COMPONENTS]


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_component_runs_its_hardened_manifest(host, pods, component):
    pod = pods["pods"][f"{component}.yaml"]
    manifest = yaml.safe_load(host.file(f"{MANIFESTS}/{component}.yaml").content_string)
    command = manifest["spec"]["containers"][0]["command"]
    assert pod["state"] == "running", pod
    assert pod["command"][-len(command) + 1 :] == command[1:], pod
    running = flags(pod["command"])
    for name, value in HARDENED[component].items():
        assert running.get(name) == value, (component, name, running.get(name))
    assert pods["errors"] == {}, pods["errors"]
    file = host.file(f"{MANIFESTS}/{component}.yaml")
    assert (file.mode, file.user, file.group) == (0o600, "root", "root")


def test_the_api_server_answers_anonymous_requests_on_health_endpoints_only(host, pods):
    for path, status in (("/livez", "200"), ("/readyz", "200"), ("/healthz", "200"), ("/api", "401")):
        answer = host.check_output("python3 -c %s %s", ASK, f"https://10.0.2.15:6443{path}").strip()
        assert answer == status, (path, answer)


def test_the_audit_log_is_written_where_the_manifest_mounts_it(host, pods):
    log = host.file("/var/log/kubernetes/audit/audit.log")
    assert log.exists and log.is_file


def test_secrets_are_encrypted_with_a_key_only_root_reads(host, pods):
    config = host.file("/etc/kubernetes/enc/encryption-config.yaml")
    assert (config.mode, config.user) == (0o600, "root")
    data = yaml.safe_load(config.content_string)
    [group] = [g for g in data["resources"] if "secrets" in g["resources"]]
    assert next(iter(group["providers"][0])) == "secretbox"
    assert {"identity": {}} in group["providers"][1:]


def test_previous_manifests_are_kept_outside_the_manifests_directory(host, pods):
    backups = host.file(BACKUPS)
    assert backups.mode == 0o700
    copies = [name for name in backups.listdir() if name.startswith("kube-apiserver.yaml.")]
    assert 1 <= len(copies) <= 5, copies
    assert "kube-apiserver.yaml.bak" in host.file(f"{BACKUPS}/moved").listdir()


def test_etcd_data_is_etcds_own(host, pods):
    data = host.file("/var/lib/etcd")
    assert (data.mode, data.user, data.group) == (0o700, "etcd", "etcd")
    assert host.user("etcd").shell == "/usr/sbin/nologin"


def test_cni_files_only_root_reads(host, pods):
    for path in host.check_output("find /etc/cni/net.d /var/lib/cni/networks -type f").split():
        file = host.file(path)
        assert (file.mode, file.user) == (0o600, "root"), path
