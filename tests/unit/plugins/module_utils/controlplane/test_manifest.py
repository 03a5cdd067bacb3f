# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a static pod manifest (flags, mounts, probe) and editing it by lines."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.manifest import (
    Manifest,
    ManifestError,
    Mount,
    edit,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import yamldoc

from .conftest import APISERVER, APISERVER_PATH

PATH = "/etc/kubernetes/manifests/kube-scheduler.yaml"


def pod(command: str, rest: str = "") -> str:
    """A small Pod whose container's command (and what follows it) is C(command)."""
    return (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-scheduler\nspec:\n  containers:\n"
        f"  - command:\n{command}    image: registry.k8s.io/kube-scheduler:v1.32.0\n"
        f"    name: kube-scheduler\n{rest}  hostNetwork: true\n"
    )


def items(*words: str) -> str:
    return "".join(f"    - {word}\n" for word in words)


# --- reading --------------------------------------------------------------------------------------
def test_kubeadms_manifest_reads_as_the_api_server_pod():
    manifest = Manifest(APISERVER_PATH, APISERVER)
    assert (manifest.name, manifest.binary) == ("kube-apiserver", "kube-apiserver")
    flags = manifest.flags()
    assert len(flags) == 27
    assert flags["authorization-mode"] == "Node,RBAC"
    assert flags["secure-port"] == "6443"
    assert flags["service-account-issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert list(flags) == sorted(flags)
    assert [m["name"] for m in manifest.mounts()] == [v["name"] for v in manifest.volumes()]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (items("kube-scheduler", "--profiling=true", "--v=2", "--profiling=false"), {"profiling": "false", "v": "2"}),
        (items("kube-scheduler", "--profiling", "--v=2"), {"profiling": "true", "v": "2"}),
        (items("kube-scheduler", "--v=2", "--profiling"), {"v": "2", "profiling": "true"}),
        (items("kube-scheduler", "--secure-port", '"10259"', "--v=2"), {"secure-port": "10259", "v": "2"}),
        (items("kube-scheduler", "--feature-gates=A=true,B=false"), {"feature-gates": "A=true,B=false"}),
        (items("kube-scheduler", "--bind-address="), {"bind-address": ""}),
        (items("kube-scheduler", "-v=2", "--", "kube-scheduler"), {}),
        (
            items("/usr/local/bin/kube-scheduler", "--kubeconfig=/etc/kubernetes/scheduler.conf"),
            {"kubeconfig": "/etc/kubernetes/scheduler.conf"},
        ),
    ],
    ids=["last wins", "bare flag", "bare flag last", "two items", "value with =", "empty value", "no flags", "path"],
)
def test_flags(command, expected):
    assert Manifest(PATH, pod(command)).flags() == expected


def test_flags_of_command_and_args_together_the_last_wins():
    text = pod(items("kube-scheduler", "--v=1"), "    args:\n" + items("--v=3", "--profiling=false"))
    manifest = Manifest(PATH, text)
    assert manifest.flags() == {"v": "3", "profiling": "false"}
    assert [o.where for o in manifest.occurrences()["v"]] == ["command", "args"]


NESTED = APISERVER.replace(
    "    - mountPath: /etc/kubernetes/pki\n",
    "    - mountPath: /etc/kubernetes/pki/etcd\n      name: etcd-pki\n      readOnly: true\n"
    "    - mountPath: /etc/kubernetes/pki\n",
).replace(
    "  - hostPath:\n      path: /etc/kubernetes/pki\n",
    "  - hostPath:\n      path: /srv/etcd/pki\n      type: DirectoryOrCreate\n    name: etcd-pki\n"
    "  - hostPath:\n      path: /etc/kubernetes/pki\n",
)


@pytest.mark.parametrize(
    ("path", "extra", "expected"),
    [
        ("/etc/kubernetes/pki/sa.pub", (), "/etc/kubernetes/pki/sa.pub"),
        ("/etc/kubernetes/pki", (), "/etc/kubernetes/pki"),
        ("/etc/kubernetes/pki/etcd/ca.crt", (), "/srv/etcd/pki/ca.crt"),
        ("/etc/kubernetes/pki/etcd", (), "/srv/etcd/pki"),
        ("/etc/kubernetes/pki/etcdx/ca.crt", (), "/etc/kubernetes/pki/etcdx/ca.crt"),
        ("/etc/kubernetes/pki2/ca.crt", (), None),
        ("/etc/kubernetes/audit/policy.yaml", (), None),
        (
            "/etc/kubernetes/audit/policy.yaml",
            (Mount("audit", "/etc/kubernetes/audit"),),
            "/etc/kubernetes/audit/policy.yaml",
        ),
        ("/etc/ssl/certs/ca.pem", (), "/etc/ssl/certs/ca.pem"),
    ],
)
def test_host_path_through_the_longest_mount(path, extra, expected):
    assert Manifest(APISERVER_PATH, NESTED).host_path(path, extra) == expected


def probe_pod(probe: str, ports: str = "") -> str:
    return pod(items("kube-scheduler"), ports + probe)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        (APISERVER, "https://192.168.56.10:6443/livez"),
        (
            probe_pod("    livenessProbe:\n      httpGet:\n        path: /healthz\n        port: 10259\n"),
            "http://127.0.0.1:10259/healthz",
        ),
        (
            probe_pod(
                "    livenessProbe:\n      httpGet:\n        port: probe\n        scheme: HTTPS\n",
                "    ports:\n    - containerPort: 10259\n      name: probe\n",
            ),
            "https://127.0.0.1:10259/",
        ),
        (
            probe_pod(
                "    startupProbe:\n      httpGet:\n        host: '::1'\n        path: /livez\n        port: 2381\n"
            ),
            "http://[::1]:2381/livez",
        ),
        (probe_pod("    livenessProbe:\n      tcpSocket:\n        port: 10259\n"), None),
        (probe_pod("    livenessProbe:\n      httpGet:\n        port: missing\n"), None),
        (pod(items("kube-scheduler")), None),
    ],
    ids=["kubeadm", "no host", "named port", "startup probe ipv6", "tcp", "unknown port name", "none"],
)
def test_probe(text, url):
    probe = Manifest(PATH, text).probe()
    assert (probe.url if probe else None) == url


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n",
            f"{PATH}: not a Pod (apiVersion v1, kind Pod)",
        ),
        ("- a\n- b\n", f"{PATH}: not a Pod"),
        ("apiVersion: v1\nkind: Pod\nspec: {}\n", f"{PATH}: the Pod has no metadata.name"),
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  hostNetwork: true\n",
            f"{PATH}: the Pod has no spec.containers",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers: []\n",
            f"{PATH}: the Pod has no spec.containers",
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: x\n    image: pause\n",
            f"{PATH}: the container has no command",
        ),
        (pod(items("kube-scheduler"), "    args: --v=2\n"), f"{PATH}: the container's args must be a list of strings"),
        (pod(items("kube-scheduler")) + "spec: [\n", PATH),
    ],
    ids=["deployment", "list", "no name", "no containers", "empty containers", "no command", "args text", "bad yaml"],
)
def test_what_is_not_a_control_plane_pod_is_refused_with_the_path(text, message):
    with pytest.raises(ManifestError) as error:
        Manifest(PATH, text)
    assert str(error.value).startswith(message)


def test_a_container_is_chosen_by_name():
    text = pod(items("kube-scheduler", "--v=1")).replace(
        "  hostNetwork: true\n", "  - command:\n    - sidecar\n    - --v=9\n    name: sidecar\n  hostNetwork: true\n"
    )
    assert Manifest(PATH, text, "sidecar").flags() == {"v": "9"}
    with pytest.raises(ManifestError, match="no container named 'etcd' \\(containers: kube-scheduler, sidecar\\)"):
        Manifest(PATH, text, "etcd")


# --- editing flags ---------------------------------------------------------------------------------
def line(flag: str) -> str:
    return f"    - {flag}\n"


APISERVER_EDITS = [
    (
        "new flag in name order",
        {"profiling": "false"},
        APISERVER.replace(
            "    - --proxy-client-cert-file", line("--profiling=false") + "    - --proxy-client-cert-file"
        ),
    ),
    (
        "new flag first",
        {"admission-control-config-file": "/etc/kubernetes/admission/config.yaml"},
        APISERVER.replace(
            line("--advertise-address=192.168.56.10"),
            line("--admission-control-config-file=/etc/kubernetes/admission/config.yaml")
            + line("--advertise-address=192.168.56.10"),
        ),
    ),
    (
        "new flag last",
        {"v": "2"},
        APISERVER.replace(
            line("--tls-private-key-file=/etc/kubernetes/pki/apiserver.key"),
            line("--tls-private-key-file=/etc/kubernetes/pki/apiserver.key") + line("--v=2"),
        ),
    ),
    (
        "changed in place",
        {"authorization-mode": "Node,RBAC,Webhook"},
        APISERVER.replace(line("--authorization-mode=Node,RBAC"), line("--authorization-mode=Node,RBAC,Webhook")),
    ),
    (
        "removed",
        {"enable-bootstrap-token-auth": None},
        APISERVER.replace(line("--enable-bootstrap-token-auth=true"), ""),
    ),
    ("absent flag removed", {"token-auth-file": None}, APISERVER),
    (
        "several at once",
        {"profiling": "false", "anonymous-auth": "false", "enable-bootstrap-token-auth": None},
        APISERVER.replace(
            line("--authorization-mode=Node,RBAC"),
            line("--anonymous-auth=false") + line("--authorization-mode=Node,RBAC"),
        )
        .replace(line("--enable-bootstrap-token-auth=true"), "")
        .replace("    - --proxy-client-cert-file", line("--profiling=false") + "    - --proxy-client-cert-file"),
    ),
]


def wanted_flags(before: Manifest, flags: dict) -> dict:
    wanted = before.flags()
    for name, value in flags.items():
        if value is None:
            wanted.pop(name, None)
        else:
            wanted[name] = value
    return wanted


@pytest.mark.parametrize(
    ("flags", "expected"), [case[1:] for case in APISERVER_EDITS], ids=[c[0] for c in APISERVER_EDITS]
)
def test_edit_kubeadms_manifest(flags, expected):
    manifest = Manifest(APISERVER_PATH, APISERVER)
    result = edit(manifest, flags)
    assert result == expected
    after = Manifest(APISERVER_PATH, result)
    assert after.flags() == wanted_flags(manifest, flags)
    assert yaml.safe_load(result)["spec"]["volumes"] == yaml.safe_load(APISERVER)["spec"]["volumes"]


SMALL_EDITS = [
    (
        "duplicates collapse to the last",
        pod(items("kube-scheduler", "--profiling=true", "--v=2", "--profiling=true")),
        {"profiling": "false"},
        pod(items("kube-scheduler", "--v=2", "--profiling=false")),
    ),
    (
        "duplicates all removed",
        pod(items("kube-scheduler", "--profiling=true", "--v=2", "--profiling")),
        {"profiling": None},
        pod(items("kube-scheduler", "--v=2")),
    ),
    (
        "two-item form becomes one",
        pod(items("kube-scheduler", "--secure-port", '"10259"', "--v=2")),
        {"secure-port": "10260"},
        pod(items("kube-scheduler", "--secure-port=10260", "--v=2")),
    ),
    (
        "two-item form removed",
        pod(items("kube-scheduler", "--secure-port", "'10259'", "--v=2")),
        {"secure-port": None},
        pod(items("kube-scheduler", "--v=2")),
    ),
    (
        "unsorted flags: appended",
        pod(items("kube-scheduler", "--v=2", "--bind-address=127.0.0.1")),
        {"authentication-kubeconfig": "/etc/kubernetes/scheduler.conf"},
        pod(
            items(
                "kube-scheduler",
                "--v=2",
                "--bind-address=127.0.0.1",
                "--authentication-kubeconfig=/etc/kubernetes/scheduler.conf",
            )
        ),
    ),
    (
        "no flags yet",
        pod(items("kube-scheduler")),
        {"profiling": "false"},
        pod(items("kube-scheduler", "--profiling=false")),
    ),
    (
        "args list",
        pod(items("kube-scheduler"), "    args:\n" + items("--b=1", "--d=1")),
        {"c": "1", "a": "0", "d": None},
        pod(items("kube-scheduler"), "    args:\n" + items("--a=0", "--b=1", "--c=1")),
    ),
    (
        "comments kept byte for byte",
        "# kube-scheduler, pinned by the platform team\n"
        + pod(
            "    # flags below are sorted\n"
            + items("kube-scheduler", "--bind-address=0.0.0.0   # reachable for metrics", "--v=2")
            + "    # end of flags\n"
        ),
        {"bind-address": "127.0.0.1", "profiling": "false"},
        "# kube-scheduler, pinned by the platform team\n"
        + pod(
            "    # flags below are sorted\n"
            + items(
                "kube-scheduler", "--bind-address=127.0.0.1   # reachable for metrics", "--profiling=false", "--v=2"
            )
            + "    # end of flags\n"
        ),
    ),
    (
        "quoted items",
        pod(items('"kube-scheduler"', '"--profiling=true"', "'--v=2'")),
        {"profiling": "false"},
        pod(items('"kube-scheduler"', "--profiling=false", "'--v=2'")),
    ),
    (
        "CRLF",
        pod(items("kube-scheduler", "--profiling=true", "--v=2")).replace("\n", "\r\n"),
        {"profiling": "false", "bind-address": "127.0.0.1"},
        pod(items("kube-scheduler", "--bind-address=127.0.0.1", "--profiling=false", "--v=2")).replace("\n", "\r\n"),
    ),
    (
        "no final newline",
        pod(items("kube-scheduler", "--profiling=true", "--v=2")).rstrip("\n"),
        {"profiling": "false", "bind-address": "127.0.0.1"},
        pod(items("kube-scheduler", "--bind-address=127.0.0.1", "--profiling=false", "--v=2")).rstrip("\n"),
    ),
    (
        "indented sequence",
        pod(items("kube-scheduler", "--v=2")).replace("    - ", "      - ").replace("  - command", "  - command"),
        {"profiling": "false"},
        pod(items("kube-scheduler", "--profiling=false", "--v=2")).replace("    - ", "      - "),
    ),
]


@pytest.mark.parametrize(("text", "flags", "expected"), [c[1:] for c in SMALL_EDITS], ids=[c[0] for c in SMALL_EDITS])
def test_edit_by_lines(text, flags, expected):
    manifest = Manifest(PATH, text)
    result = edit(manifest, flags)
    assert result == expected
    assert Manifest(PATH, result).flags() == wanted_flags(manifest, flags)


def test_a_value_that_needs_quotes_is_quoted_and_reads_back():
    manifest = Manifest(PATH, pod(items("kube-scheduler", "--v=2")))
    result = edit(manifest, {"w": "a: b #c"})
    assert Manifest(PATH, result).flags() == {"v": "2", "w": "a: b #c"}
    assert yaml.safe_load(result)["spec"]["containers"][0]["command"] == ["kube-scheduler", "--v=2", "--w=a: b #c"]


def test_a_flow_style_command_is_refused_with_a_message():
    text = pod("").replace("  - command:\n", "  - command: [kube-scheduler, --v=2]\n")
    manifest = Manifest(PATH, text)
    assert manifest.flags() == {"v": "2"}
    with pytest.raises(ManifestError) as error:
        edit(manifest, {"profiling": "false"})
    assert str(error.value) == (
        f"{PATH}: the container's command is not a block sequence ('- ' items); editing it is not supported"
    )


# --- editing volumes and mounts --------------------------------------------------------------------
AUDIT_MOUNT = "    - mountPath: /etc/kubernetes/audit\n      name: audit\n      readOnly: true\n"
AUDIT_VOLUME = "  - hostPath:\n      path: /etc/kubernetes/audit\n      type: DirectoryOrCreate\n    name: audit\n"
LOG_MOUNT = "    - mountPath: /var/log/kubernetes/audit\n      name: zz-audit-log\n"
LOG_VOLUME = (
    "  - hostPath:\n      path: /var/log/kubernetes/audit\n      type: DirectoryOrCreate\n    name: zz-audit-log\n"
)


def test_new_volumes_and_mounts_go_in_name_order():
    manifest = Manifest(APISERVER_PATH, APISERVER)
    mounts = [
        Mount("zz-audit-log", "/var/log/kubernetes/audit", read_only=False),
        Mount("audit", "/etc/kubernetes/audit"),
    ]
    result = edit(manifest, {"audit-policy-file": "/etc/kubernetes/audit/policy.yaml"}, mounts)
    expected = (
        APISERVER.replace(
            line("--authorization-mode=Node,RBAC"),
            line("--audit-policy-file=/etc/kubernetes/audit/policy.yaml") + line("--authorization-mode=Node,RBAC"),
        )
        .replace("    volumeMounts:\n", "    volumeMounts:\n" + AUDIT_MOUNT)
        .replace("      readOnly: true\n  hostNetwork", "      readOnly: true\n" + LOG_MOUNT + "  hostNetwork")
        .replace("  volumes:\n", "  volumes:\n" + AUDIT_VOLUME)
        .replace(
            "    name: usr-share-ca-certificates\nstatus",
            "    name: usr-share-ca-certificates\n" + LOG_VOLUME + "status",
        )
    )
    assert result == expected
    after = Manifest(APISERVER_PATH, result)
    assert after.host_path("/etc/kubernetes/audit/policy.yaml") == "/etc/kubernetes/audit/policy.yaml"
    assert {"mountPath": "/var/log/kubernetes/audit", "name": "zz-audit-log"} in after.mounts()


def test_new_volumes_and_mounts_keys_are_added_where_missing_in_name_order():
    # The names sort otherwise than the paths: both new lists follow the names, as kubeadm's do.
    manifest = Manifest(PATH, pod(items("kube-scheduler", "--v=2")))
    result = edit(manifest, {}, [Mount("zz-a", "/a/path"), Mount("aa-z", "/z/path", "Directory", read_only=False)])
    expected = pod(
        items("kube-scheduler", "--v=2"),
        "    volumeMounts:\n    - mountPath: /z/path\n      name: aa-z\n"
        "    - mountPath: /a/path\n      name: zz-a\n      readOnly: true\n",
    ) + (
        "  volumes:\n  - hostPath:\n      path: /z/path\n      type: Directory\n    name: aa-z\n"
        "  - hostPath:\n      path: /a/path\n      type: DirectoryOrCreate\n    name: zz-a\n"
    )
    assert result == expected


def test_a_mount_already_there_by_path_adds_nothing():
    manifest = Manifest(APISERVER_PATH, APISERVER)
    assert edit(manifest, {}, [Mount("pki", "/etc/kubernetes/pki")]) == APISERVER


@pytest.mark.parametrize(
    ("mount", "message"),
    [
        (
            Mount("k8s-certs", "/srv/pki"),
            f"{APISERVER_PATH}: the Pod has a volume named 'k8s-certs' for another path; "
            "give the mount for /srv/pki another name",
        ),
    ],
)
def test_a_volume_name_clash_is_refused(mount, message):
    with pytest.raises(ManifestError) as error:
        edit(Manifest(APISERVER_PATH, APISERVER), {}, [mount])
    assert str(error.value) == message


# --- yamldoc.outline --------------------------------------------------------------------------------
def test_outline_gives_lines_endings_and_positions():
    text = "a:\r\n  - x  # c\r\n  - 'y'\r\nb: 1"
    root, lines, endings = yamldoc.outline(text)
    assert lines == ["a:", "  - x  # c", "  - 'y'", "b: 1"]
    assert endings == ["\r\n", "\r\n", "\r\n", ""]
    seq = root.entries["a"].value
    assert seq.kind == "seq"
    assert [(i.line, i.col, i.stop) for i in seq.items] == [(1, 4, 5), (2, 4, 7)]
    assert root.entries["b"].line == 3
    assert yamldoc.outline("")[0] is None
