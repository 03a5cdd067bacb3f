# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control plane fixture on the host, no VM: lab/controlplane/pki.py's PKI (openssl),
layout.py laid out under a temporary root, standin_component.py's command line, file and
configuration checks and its 401-or-200 rule, and static_pods.py's reading of the manifests
directory, with one stand-in apiserver and one runner run as processes on free high ports."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CP_DIR = ROOT / "lab" / "controlplane"
NODE, ADDRESS = "cp1", "192.0.2.31"
PKI = "/etc/kubernetes/pki"
LAYOUT = [sys.executable, str(CP_DIR / "layout.py")]


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pki = load("controlplane_pki", CP_DIR / "pki.py")
layout = load("controlplane_layout", CP_DIR / "layout.py")
standin = load("controlplane_standin", CP_DIR / "standin_component.py")
static_pods = load("controlplane_static_pods", CP_DIR / "static_pods.py")

# Modes kubeadm v1.32 and the CNI plugins leave (see layout.py for the sources), written again here
# so that a change to layout.py has to be a deliberate one.
MODES = {
    "/etc/kubernetes/pki": 0o755,
    "/etc/kubernetes/pki/etcd": 0o755,
    "/etc/kubernetes/pki/ca.crt": 0o644,
    "/etc/kubernetes/pki/ca.key": 0o600,
    "/etc/kubernetes/pki/apiserver.crt": 0o644,
    "/etc/kubernetes/pki/apiserver.key": 0o600,
    "/etc/kubernetes/pki/sa.key": 0o600,
    "/etc/kubernetes/pki/sa.pub": 0o600,
    "/etc/kubernetes/pki/etcd/ca.crt": 0o644,
    "/etc/kubernetes/pki/etcd/server.key": 0o600,
    "/etc/kubernetes/admin.conf": 0o600,
    "/etc/kubernetes/super-admin.conf": 0o600,
    "/etc/kubernetes/controller-manager.conf": 0o600,
    "/etc/kubernetes/scheduler.conf": 0o600,
    "/etc/kubernetes/manifests": 0o755,
    "/etc/kubernetes/manifests/etcd.yaml": 0o600,
    "/etc/kubernetes/manifests/kube-apiserver.yaml": 0o600,
    "/etc/kubernetes/manifests/kube-controller-manager.yaml": 0o600,
    "/etc/kubernetes/manifests/kube-scheduler.yaml": 0o600,
    "/var/lib/etcd": 0o700,
    "/etc/cni/net.d/10-flannel.conflist": 0o644,
    "/var/lib/cni/networks/cbr0": 0o755,
    "/var/lib/cni/networks/cbr0/10.244.0.2": 0o644,
    "/var/lib/cni/networks/cbr0/last_reserved_ip.0": 0o644,
    "/usr/local/bin/kube-apiserver": 0o755,
    "/usr/local/bin/etcd": 0o755,
    "/var/lib/nodelab/standin-serving.key": 0o600,
    "/etc/systemd/system/nodelab-static-pods.service": 0o644,
}
# (certificate, its CA) for every certificate kubeadm makes.
CHAINS = [
    ("apiserver", "ca"),
    ("apiserver-kubelet-client", "ca"),
    ("front-proxy-client", "front-proxy-ca"),
    ("etcd/server", "etcd/ca"),
    ("etcd/peer", "etcd/ca"),
    ("etcd/healthcheck-client", "etcd/ca"),
    ("apiserver-etcd-client", "etcd/ca"),
]


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pki")
    pki.main([str(out), "--node-name", NODE, "--advertise-address", ADDRESS])
    return out


def lay(root: Path, pki_dir: Path, *extra: str) -> str:
    done = subprocess.run(
        [
            *LAYOUT,
            "--root",
            str(root),
            "--pki",
            str(pki_dir),
            "--node-name",
            NODE,
            "--advertise-address",
            ADDRESS,
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def root(tmp_path_factory, pki_dir):
    directory = tmp_path_factory.mktemp("node")
    lay(directory, pki_dir)
    return directory


def at(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


def manifest(root: Path, name: str) -> dict:
    return yaml.safe_load(at(root, f"/etc/kubernetes/manifests/{name}.yaml").read_text(encoding="utf-8"))


def flags(pod: dict) -> dict:
    return dict(word[2:].split("=", 1) for word in pod["spec"]["containers"][0]["command"][1:])


# --- layout -------------------------------------------------------------------------------------


def test_paths_and_modes(root):
    for path, mode in MODES.items():
        info = os.lstat(at(root, path))
        assert stat.S_IMODE(info.st_mode) == mode, path


def test_rerun_changes_nothing(root, pki_dir):
    before = {path: os.stat(path).st_mtime_ns for path in root.rglob("*")}
    assert lay(root, pki_dir).strip() == "layout: nothing to change"
    assert {path: os.stat(path).st_mtime_ns for path in root.rglob("*")} == before


def test_manifests_are_kubeadms_pods(root):
    expected = {
        "kube-apiserver": ("authorization-mode", "Node,RBAC", "/livez", 6443, "HTTPS", ADDRESS),
        "kube-controller-manager": ("bind-address", "127.0.0.1", "/healthz", 10257, "HTTPS", "127.0.0.1"),
        "kube-scheduler": ("leader-elect", "true", "/healthz", 10259, "HTTPS", "127.0.0.1"),
        "etcd": ("listen-metrics-urls", "http://127.0.0.1:2381", "/livez", 2381, "HTTP", "127.0.0.1"),
    }
    for name, (flag, value, path, port, scheme, host) in expected.items():
        pod = manifest(root, name)
        assert (pod["apiVersion"], pod["kind"], pod["metadata"]["name"]) == ("v1", "Pod", name)
        assert pod["metadata"]["namespace"] == "kube-system" and pod["status"] == {}
        assert pod["spec"]["priorityClassName"] == "system-node-critical" and pod["spec"]["hostNetwork"] is True
        container = pod["spec"]["containers"][0]
        assert container["command"][0] == name and flags(pod)[flag] == value
        assert container["command"][1:] == sorted(container["command"][1:])
        assert container["livenessProbe"]["httpGet"] == {"host": host, "path": path, "port": port, "scheme": scheme}
        assert container["startupProbe"]["failureThreshold"] == 24
    api = flags(manifest(root, "kube-apiserver"))
    assert api["enable-admission-plugins"] == "NodeRestriction"
    assert api["service-account-issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert "anonymous-auth" not in api and "profiling" not in api
    text = at(root, "/etc/kubernetes/manifests/kube-apiserver.yaml").read_text(encoding="utf-8")
    assert "  creationTimestamp: null\n" in text and text.endswith("status: {}\n")
    assert text.index("  containers:") < text.index("  hostNetwork: true") < text.index("  volumes:")
    etcd = manifest(root, "etcd")
    assert flags(etcd)["initial-cluster"] == f"{NODE}=https://{ADDRESS}:2380"
    assert [item["name"] for item in etcd["spec"]["containers"][0]["volumeMounts"]] == ["etcd-data", "etcd-certs"]


def test_certificates_verify_against_their_cas(root):
    for name, ca in CHAINS:
        done = subprocess.run(
            ["openssl", "verify", "-CAfile", str(at(root, f"{PKI}/{ca}.crt")), str(at(root, f"{PKI}/{name}.crt"))],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (name, done.stdout, done.stderr)
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", str(at(root, f"{PKI}/apiserver.crt"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for san in (
        "DNS:kubernetes.default.svc.cluster.local",
        f"DNS:{NODE}",
        "IP Address:10.96.0.1",
        f"IP Address:{ADDRESS}",
    ):
        assert san in text
    worker_ca = (ROOT / "lab" / "kubelet" / "certs" / "ca.crt").read_bytes()
    assert at(root, f"{PKI}/ca.crt").read_bytes() == worker_ca


def test_kubeconfigs_embed_client_certificates_of_kubeadms_users(root, tmp_path):
    users = {"admin": "O = kubeadm:cluster-admins, CN = kubernetes-admin", "super-admin": "O = system:masters"}
    for name, subject in users.items():
        config = yaml.safe_load(at(root, f"/etc/kubernetes/{name}.conf").read_text(encoding="utf-8"))
        assert config["clusters"][0]["cluster"]["server"] == f"https://{ADDRESS}:6443"
        cert = tmp_path / f"{name}.crt"
        cert.write_bytes(base64.b64decode(config["users"][0]["user"]["client-certificate-data"]))
        shown = subprocess.run(
            ["openssl", "x509", "-noout", "-subject", "-in", str(cert)], capture_output=True, text=True, check=True
        )
        assert subject in shown.stdout
        verify = ["openssl", "verify", "-CAfile", str(at(root, f"{PKI}/ca.crt")), str(cert)]
        assert subprocess.run(verify, capture_output=True, check=False).returncode == 0


def test_refuses_a_pki_of_another_node_and_another_worker_ca(tmp_path, pki_dir):
    done = subprocess.run(
        [
            *LAYOUT,
            "--root",
            str(tmp_path),
            "--pki",
            str(pki_dir),
            "--node-name",
            "other",
            "--advertise-address",
            ADDRESS,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "pki.py" in done.stderr
    at(tmp_path, f"{PKI}").mkdir(parents=True)
    at(tmp_path, f"{PKI}/ca.crt").write_text("another CA\n", encoding="ascii")
    done = subprocess.run(
        [*LAYOUT, "--root", str(tmp_path), "--pki", str(pki_dir), "--node-name", NODE, "--advertise-address", ADDRESS],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0 and "worker layout" in done.stderr
    assert at(tmp_path, f"{PKI}/ca.crt").read_text(encoding="ascii") == "another CA\n"


# --- the stand-in's command line and files ------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "argv", "error"),
    [
        ("kube-apiserver", ["--no-such-flag=1"], "unknown flag: --no-such-flag"),
        ("kube-apiserver", ["--profiling=maybe"], 'invalid argument "maybe" for "--profiling" flag: strconv.ParseBool'),
        ("kube-apiserver", ["--authorization-mode=Node,RBAC,Magic"], 'authorization-mode "Magic" is not a valid mode'),
        (
            "kube-apiserver",
            ["--enable-admission-plugins=NodeRestriction,PodSecurityPolicy"],
            'plugin "PodSecurityPolicy"',
        ),
        ("kube-apiserver", ["--tls-cipher-suites=TLS_FOO"], "Cipher suite TLS_FOO not supported"),
        ("kube-apiserver", ["--request-timeout=60"], 'time: invalid duration "60"'),
        ("kube-apiserver", ["--feature-gates=Foo=on"], "invalid value of Foo=on"),
        ("kube-apiserver", ["--audit-log-maxage", "ten"], "strconv.ParseInt"),
        ("kube-controller-manager", ["--bind-address=localhost"], 'failed to parse IP: "localhost"'),
        ("kube-apiserver", ["--profiling", "false"], '"kube-apiserver" does not take any arguments, got ["false"]'),
        ("kube-scheduler", ["--profiling"], None),
        ("etcd", ["--client-cert-auth=yes"], 'invalid boolean value "yes" for -client-cert-auth'),
        ("etcd", ["--no-such=1"], "flag provided but not defined: -no-such"),
    ],
)
def test_command_line_as_the_component_parses_it(component, argv, error):
    if error is None:
        values, given = standin.parse_command_line(component, argv)
        assert values["profiling"] is True and given == ["profiling"]
        return
    with pytest.raises(standin.Fatal) as raised:
        standin.parse_command_line(component, argv)
    assert error in str(raised.value)


def test_every_flag_kubeadm_writes_is_known(root):
    for name in layout.COMPONENTS:
        values, _given = standin.parse_command_line(name, manifest(root, name)["spec"]["containers"][0]["command"][1:])
        assert values


def test_files_must_exist_inside_a_mount(tmp_path):
    inside = tmp_path / "pki"
    inside.mkdir()
    (inside / "ok.crt").write_text("x", encoding="ascii")
    (tmp_path / "outside.yaml").write_text("x", encoding="ascii")
    standin.check_file(str(inside / "ok.crt"), [str(inside)])
    for path in (tmp_path / "outside.yaml", inside / "missing.crt"):
        with pytest.raises(standin.Fatal, match=f"open {path}: no such file or directory"):
            standin.check_file(str(path), [str(inside)])
    with pytest.raises(standin.Fatal, match="read-only file system"):
        standin.writable_place(str(inside / "audit.log"), [str(inside)], [str(inside)], directory=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    standin.writable_place(str(logs / "audit" / "audit.log"), [str(logs)], [], directory=False)
    assert (logs / "audit" / "audit.log").is_file()


def authn(anonymous) -> dict:
    document = {"apiVersion": "apiserver.config.k8s.io/v1beta1", "kind": "AuthenticationConfiguration"}
    if anonymous is not None:
        document["anonymous"] = anonymous
    return standin.load_authentication_config(document)


@pytest.mark.parametrize(
    ("flag", "config", "path", "allowed"),
    [
        (True, None, "/livez", True),
        (False, None, "/livez", False),
        (True, {"enabled": False}, "/livez", False),
        (False, {"enabled": True}, "/readyz", True),
        (True, {"enabled": True, "conditions": [{"path": "/livez"}, {"path": "/readyz"}]}, "/livez", True),
        (True, {"enabled": True, "conditions": [{"path": "/readyz"}]}, "/livez", False),
    ],
)
def test_anonymous_requests_rule(flag, config, path, allowed):
    document = authn(config) if config is not None else None
    assert standin.anonymous_allowed(flag, document, path) is allowed


def test_anonymous_auth_flag_and_config_section_conflict():
    assert standin.anonymous_conflict(False, authn(None)) is None
    assert standin.anonymous_conflict(True, authn(None)) is None
    message = standin.anonymous_conflict(True, authn({"enabled": True}))
    assert message is not None and "--anonymous-auth flag cannot be set when anonymous field is configured" in message
    with pytest.raises(standin.Fatal, match="enabled should be set to true"):
        authn({"enabled": False, "conditions": [{"path": "/livez"}]})
    with pytest.raises(standin.Fatal, match="AuthenticationConfiguration"):
        standin.load_authentication_config({"apiVersion": "v1", "kind": "AuthenticationConfiguration"})


def secret(size: int) -> str:
    return base64.b64encode(b"k" * size).decode()


@pytest.mark.parametrize(
    ("providers", "error"),
    [
        ([{"aescbc": {"keys": [{"name": "k1", "secret": secret(32)}]}}, {"identity": {}}], None),
        ([{"aesgcm": {"keys": [{"name": "k1", "secret": secret(16)}]}}], None),
        ([{"secretbox": {"keys": [{"name": "k1", "secret": secret(32)}]}}], None),
        ([{"aescbc": {"keys": [{"name": "k1", "secret": secret(20)}]}}], "got 20, expected one of [16 24 32]"),
        ([{"secretbox": {"keys": [{"name": "k1", "secret": secret(16)}]}}], "got 16, expected 32"),
        ([{"aescbc": {"keys": [{"name": "k1", "secret": "not base64!"}]}}], "base64"),
        ([{"rot13": {}}], "expected providers"),
        ([{"aescbc": {"keys": []}}], "keys must contain at least one key"),
    ],
)
def test_encryption_configuration(providers, error):
    document = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": providers}],
    }
    if error is None:
        standin.validate_encryption_config(document)
    else:
        with pytest.raises(standin.Fatal) as raised:
            standin.validate_encryption_config(document)
        assert error in str(raised.value)


def test_audit_policy():
    policy = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}
    standin.validate_audit_policy(policy)
    with pytest.raises(standin.Fatal, match=r'rules\[0\]\.level: Unsupported value: "Everything"'):
        standin.validate_audit_policy({**policy, "rules": [{"level": "Everything"}]})
    with pytest.raises(standin.Fatal, match="Policy"):
        standin.validate_audit_policy({**policy, "apiVersion": "audit.k8s.io/v1beta1"})


def rooted(root: Path, argv: list) -> list:
    return [word.replace("=/etc/", f"={root}/etc/") for word in argv]


def test_kubeadms_apiserver_starts_with_its_mounts_only(root):
    pod = manifest(root, "kube-apiserver")
    argv = rooted(root, pod["spec"]["containers"][0]["command"][1:])
    mounts = [str(root) + item["mountPath"] for item in pod["spec"]["containers"][0]["volumeMounts"]]
    environ = {"NODELAB_MOUNTS": ":".join(mounts)}
    standin.start("kube-apiserver", argv, environ)
    with pytest.raises(standin.Fatal, match=r"admin\.conf: no such file or directory"):
        standin.start("kube-apiserver", [*argv, f"--token-auth-file={root}/etc/kubernetes/admin.conf"], environ)
    with pytest.raises(standin.Fatal, match="anonymous: Forbidden"):
        config = root / "etc/kubernetes/pki/authn.yaml"
        config.write_text(
            yaml.safe_dump({**authn({"enabled": True}), "anonymous": {"enabled": True}}), encoding="utf-8"
        )
        standin.start("kube-apiserver", [*argv, f"--authentication-config={config}", "--anonymous-auth=true"], environ)
    config.unlink()


# --- serving: one stand-in apiserver as a process -----------------------------------------------


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def get(url: str) -> tuple:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url, headers={"User-Agent": "curl/8"})
    try:
        with urllib.request.urlopen(request, context=context, timeout=2) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize(("anonymous", "status"), [("true", 200), ("false", 401)])
def test_apiserver_livez_answers_anonymous_requests_only_when_allowed(root, anonymous, status):
    pod = manifest(root, "kube-apiserver")
    mounts = [str(root) + item["mountPath"] for item in pod["spec"]["containers"][0]["volumeMounts"]]
    port = free_port()
    argv = rooted(root, pod["spec"]["containers"][0]["command"][1:])
    argv += ["--bind-address=127.0.0.1", f"--secure-port={port}", f"--anonymous-auth={anonymous}"]
    process = subprocess.Popen(
        [sys.executable, str(CP_DIR / "standin_component.py"), "--as", "kube-apiserver", *argv],
        env={**os.environ, "NODELAB_MOUNTS": ":".join(mounts)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                code, body = get(f"https://127.0.0.1:{port}/livez")
                break
            except OSError:
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert code == status
        if status == 401:
            assert json.loads(body) == standin.UNAUTHORIZED
        else:
            assert body == b"ok"
    finally:
        process.terminate()
        process.wait(5)


# --- the runner ---------------------------------------------------------------------------------

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: kube-system
spec:
  containers:
  - name: c
    command: [sleep, "{seconds}"]
"""


def test_runner_reads_the_directory_as_the_kubelet_does(tmp_path):
    (tmp_path / "a.yaml").write_text(POD.format(name="one", seconds=30), encoding="utf-8")
    (tmp_path / "a.yaml.bak").write_text(POD.format(name="one", seconds=30), encoding="utf-8")
    (tmp_path / ".a.yaml.swp").write_text("not yaml: [", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("remember: things\n", encoding="utf-8")
    (tmp_path / "service.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", encoding="utf-8")
    (tmp_path / "subdir").mkdir()
    pods, errors = static_pods.scan(str(tmp_path))
    assert list(pods) == ["a.yaml"]
    assert set(errors) == {"a.yaml.bak", "notes.txt", "service.yaml"}
    assert 'duplicate pod name "one"' in errors["a.yaml.bak"]
    assert "not a v1 Pod" in errors["service.yaml"]


def test_runner_restarts_a_changed_pod_and_stops_a_removed_one(tmp_path):
    manifests, logs = tmp_path / "manifests", tmp_path / "logs"
    manifests.mkdir()
    (manifests / "p.yaml").write_text(POD.format(name="p", seconds=30), encoding="utf-8")
    runner = static_pods.Runner(str(manifests), str(tmp_path / "status.json"), str(logs))
    try:
        runner.sync(time.monotonic())
        first = runner.pods["p.yaml"].process
        assert first is not None and first.poll() is None
        (manifests / "p.yaml").write_text("# a comment\n" + POD.format(name="p", seconds=30), encoding="utf-8")
        runner.sync(time.monotonic())
        assert runner.pods["p.yaml"].process is first
        (manifests / "p.yaml").write_text(POD.format(name="p", seconds=31), encoding="utf-8")
        runner.sync(time.monotonic())
        second = runner.pods["p.yaml"].process
        assert first.poll() is not None and second is not None and second is not first
        runner.write_status()
        status = json.loads((tmp_path / "status.json").read_text(encoding="utf-8"))
        assert status["pods"]["p.yaml"]["pid"] == second.pid
        (manifests / "p.yaml").unlink()
        runner.sync(time.monotonic())
        assert second.poll() is not None and not runner.pods
    finally:
        runner.stop_all()


def test_runner_kills_a_pod_that_fails_its_liveness_probe(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    probe = {"httpGet": {"host": "127.0.0.1", "path": "/livez", "port": free_port(), "scheme": "HTTPS"}}
    probe.update({"initialDelaySeconds": 0, "periodSeconds": 1, "failureThreshold": 2, "timeoutSeconds": 1})
    pod = yaml.safe_load(POD.format(name="p", seconds=30))
    pod["spec"]["containers"][0]["livenessProbe"] = probe
    (manifests / "p.yaml").write_text(yaml.safe_dump(pod), encoding="utf-8")
    runner = static_pods.Runner(str(manifests), str(tmp_path / "status.json"), str(tmp_path / "logs"))
    try:
        now = time.monotonic()
        runner.sync(now)
        first = runner.pods["p.yaml"].process
        runner.sync(now + 1)
        assert first.poll() is None and runner.pods["p.yaml"].probes["livenessProbe"].failures == 1
        runner.sync(now + 2)
        assert first.poll() is not None and runner.pods["p.yaml"].restarts == 1
        assert "livenessProbe failed 2 times" in runner.pods["p.yaml"].last_exit
        runner.sync(now + 4)
        assert runner.pods["p.yaml"].process is not None and runner.pods["p.yaml"].process is not first
    finally:
        runner.stop_all()
