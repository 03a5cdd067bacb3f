# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardened kubelet node, read with the node's own tools after converge and the side effects.

The configuration is read with PyYAML on the node (not with the collection's reader) and compared
with the copy prepare kept of the file as kubeadm or kubespray wrote it.
"""

from __future__ import annotations

import copy
import json

import pytest

# What the role writes (its defaults), by key path.
MANAGED = {
    ("authentication", "anonymous", "enabled"): False,
    ("authorization", "mode"): "Webhook",
    ("readOnlyPort",): 0,
    ("streamingConnectionIdleTimeout",): "4h",
    ("makeIPTablesUtilChains",): True,
    ("eventRecordQPS",): 50,
    ("tlsCertFile",): "/var/lib/kubelet/pki/kubelet.crt",
    ("tlsPrivateKeyFile",): "/var/lib/kubelet/pki/kubelet.key",
    ("rotateCertificates",): True,
    ("featureGates", "RotateKubeletServerCertificate"): True,
    ("tlsCipherSuites",): [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ],
    ("podPidsLimit",): 4096,
    ("seccompDefault",): True,
    ("protectKernelDefaults",): True,
}
LAYOUT = {
    "kubeadm": {
        "config": "/var/lib/kubelet/config.yaml",
        "units": [
            "/usr/lib/systemd/system/kubelet.service",
            "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
        ],
        "kubeconfig": "/etc/kubernetes/kubelet.conf",
        "client_ca": "/etc/kubernetes/pki/ca.crt",
    },
    "kubespray": {
        "config": "/etc/kubernetes/kubelet-config.yaml",
        "units": ["/etc/systemd/system/kubelet.service"],
        "kubeconfig": "/etc/kubernetes/kubelet.conf",
        "client_ca": "/etc/kubernetes/ssl/ca.crt",
    },
}
# One command on the node: both files parsed, comment lines, the process and the listeners.
PROBE = r"""
import grp, json, os, pwd, socket, subprocess, urllib.request, yaml
config, original = {config!r}, "/root/nodeguard-lab/kubelet/original-config"
def attributes(path):
    info = os.stat(path)
    return [info.st_mode & 0o777, pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name]
def comments(path):
    return [line.strip() for line in open(path) if line.strip().startswith("#")]
def listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
pid = subprocess.run(["systemctl", "show", "kubelet.service", "-p", "MainPID", "--value"],
                     capture_output=True, text=True).stdout.strip()
opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))
print(json.dumps({{
    "hardened": yaml.safe_load(open(config)), "original": yaml.safe_load(open(original)),
    "comments": comments(config), "original_comments": comments(original),
    "argv": open(f"/proc/{{pid}}/cmdline").read().split("\0") if pid not in ("", "0") else [],
    "healthz": opener.open("http://127.0.0.1:10248/healthz", timeout=5).read().decode(),
    "read_only_port": listening(10255),
    "files": {{path: attributes(path) for path in {files!r}}},
}}))
"""


@pytest.fixture(scope="module")
def layout(host) -> dict:
    return LAYOUT[host.ansible.get_variables()["scenario_layout"]]


@pytest.fixture(scope="module")
def state(host, layout) -> dict:
    files = [*layout["units"], layout["config"], layout["kubeconfig"], layout["client_ca"]]
    return json.loads(host.check_output("python3 -c %s", PROBE.format(config=layout["config"], files=files)))


def value(data: dict, path: tuple[str, ...]):
    for key in path:
        data = data[key]
    return data


@pytest.mark.parametrize("path", list(MANAGED), ids=[".".join(p) for p in MANAGED])
def test_each_managed_key_is_written_in_the_file(state, path):
    assert value(state["hardened"], path) == MANAGED[path]


def without_managed(data: dict, other: dict) -> dict:
    """The configuration without the managed keys (and without parents only they filled)."""
    data = copy.deepcopy(data)
    for path in MANAGED:
        node = data
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return {key: item for key, item in data.items() if not (item == {} and key not in other)}


def test_keys_not_managed_are_kept_as_the_tool_wrote_them(state):
    hardened, original = state["hardened"], state["original"]
    assert without_managed(hardened, original) == without_managed(original, hardened)


def test_keys_keep_their_order_and_comments_stay(state):
    hardened_keys = list(state["hardened"])
    assert hardened_keys[: len(state["original"])] == list(state["original"])
    assert state["comments"] == state["original_comments"]


def test_the_kubelet_runs_healthy_with_its_read_only_port_closed(state):
    assert state["healthz"] == "ok"
    assert state["read_only_port"] is False
    assert not [word for word in state["argv"] if word.startswith("--read-only-port")]


def test_no_hostname_override_on_the_command_line(state):
    assert state["argv"], "no kubelet process"
    assert not [word for word in state["argv"] if word.startswith("--hostname-override")]


def test_files_have_the_benchmark_modes_and_owners(state, layout):
    for path in [*layout["units"], layout["config"], layout["kubeconfig"]]:
        mode, user, group = state["files"][path]
        assert mode & 0o177 == 0, (path, oct(mode))
        assert (user, group) == ("root", "root"), path
    mode, user, group = state["files"][layout["client_ca"]]
    assert mode & 0o133 == 0, oct(mode)
    assert (user, group) == ("root", "root")
