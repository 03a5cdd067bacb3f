# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet fixture on the host, no VM: lab/kubelet/layout.py laid out under a temporary root,
and lab/kubelet/standin_kubelet.py run as a process with that layout's files, on free high ports
(never the kubelet's 10248), started the way the layout's own systemd units would start it."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
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
KUBELET_DIR = ROOT / "lab" / "kubelet"
LAYOUT = KUBELET_DIR / "layout.py"
STANDIN = KUBELET_DIR / "standin_kubelet.py"
IDENTITY = "stand-in kubelet (nodeguard lab): not a kubelet"
NODE, NODE_IP = "node1", "192.0.2.21"
sys.path.insert(0, str(KUBELET_DIR))

import layout  # noqa: E402 (lab/kubelet is not a package)

# Modes the real tools leave (see layout.py for where each comes from), written here again so
# that a change to layout.py's table has to be a deliberate one.
MODES = {
    "kubeadm": {
        "/usr/bin/kubelet": 0o755,
        "/usr/lib/systemd/system/kubelet.service": 0o644,
        "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf": 0o644,
        "/etc/default/kubelet": 0o644,
        "/var/lib/kubelet": 0o755,
        "/var/lib/kubelet/kubeadm-flags.env": 0o644,
        "/var/lib/kubelet/config.yaml": 0o644,
        "/etc/kubernetes/kubelet.conf": 0o600,
        "/etc/kubernetes/pki": 0o755,
        "/etc/kubernetes/pki/ca.crt": 0o644,
        "/etc/kubernetes/manifests": 0o755,
        "/var/lib/kubelet/pki": 0o755,
        "/var/lib/kubelet/pki/kubelet.crt": 0o644,
        "/var/lib/kubelet/pki/kubelet.key": 0o600,
        layout.CLIENT_PEM: 0o600,
    },
    "kubespray": {
        "/usr/local/bin/kubelet": 0o755,
        "/etc/systemd/system/kubelet.service": 0o600,
        "/etc/kubernetes/kubelet.env": 0o600,
        "/etc/kubernetes/kubelet-config.yaml": 0o600,
        "/etc/kubernetes/kubelet.conf": 0o600,
        "/etc/kubernetes": 0o755,
        "/etc/kubernetes/manifests": 0o755,
        "/etc/kubernetes/ssl": 0o755,
        "/etc/kubernetes/ssl/ca.crt": 0o644,
        "/var/lib/kubelet": 0o700,
        "/var/lib/kubelet/pki/kubelet.key": 0o600,
        layout.CLIENT_PEM: 0o600,
    },
}
LINKS = {
    "kubeadm": {layout.CLIENT_CURRENT: layout.CLIENT_PEM},
    "kubespray": {layout.CLIENT_CURRENT: layout.CLIENT_PEM, "/etc/kubernetes/pki": "/etc/kubernetes/ssl"},
}
UNITS = {
    "kubeadm": ["/usr/lib/systemd/system/kubelet.service", "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"],
    "kubespray": ["/etc/systemd/system/kubelet.service"],
}


def run_layout(kind: str, root: Path) -> str:
    command = [sys.executable, str(LAYOUT), kind, "--root", str(root), "--node-name", NODE, "--node-ip", NODE_IP]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module", params=["kubeadm", "kubespray"])
def laid(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    run_layout(request.param, root)
    return request.param, root


def under(root: Path, path: str) -> Path:
    return root / path.lstrip("/")


# --- a small reading of systemd units and environment files, for the units' command lines -------


def unit_lines(text: str) -> list:
    return [line.strip() for line in text.replace("\\\n", " ").splitlines()]


def parse_env_file(text: str) -> dict:
    """systemd's EnvironmentFile= reading, as far as these files need: KEY=value, KEY="value"
    with backslash-newline continued lines, blank lines and # comments."""
    values = {}
    for match in re.finditer(
        r'^([A-Za-z_][A-Za-z0-9_]*)=("((?:[^"\\]|\\.)*)"|[^\n]*)$', text, re.MULTILINE | re.DOTALL
    ):
        quoted = match.group(3)
        if quoted is not None:
            values[match.group(1)] = re.sub(r"\\(.)", r"\1", quoted.replace("\\\n", ""), flags=re.DOTALL)
        else:
            values[match.group(1)] = match.group(2).strip()
    return values


def unit_command(kind: str, root: Path) -> tuple:
    """(argv, environment, environment files) of kubelet.service's ExecStart, as systemd builds it."""
    environment, files, exec_start = {}, [], None
    for unit in UNITS[kind]:
        for line in unit_lines(under(root, unit).read_text(encoding="utf-8")):
            key, _sep, value = line.partition("=")
            if key == "Environment":
                name, _sep, setting = shlex.split(value)[0].partition("=")
                environment[name] = setting
            elif key == "EnvironmentFile":
                files.append(value.lstrip("-"))
            elif key == "ExecStart":
                exec_start = value or None
    for path in files:
        if under(root, path).is_file():
            environment.update(parse_env_file(under(root, path).read_text(encoding="utf-8")))
    argv = []
    for word in exec_start.split():
        if word.startswith("$"):
            argv.extend(environment.get(word[1:], "").split())
        else:
            argv.append(word)
    return argv, environment, files


def rerooted(argv: list, root: Path) -> list:
    """The node's absolute file paths of --config and the kubeconfigs, under the temporary root."""
    out = []
    for word in argv:
        flag, sep, value = word.partition("=")
        if sep and flag in ("--config", "--kubeconfig", "--bootstrap-kubeconfig"):
            out.append(f"{flag}={under(root, value)}")
        else:
            out.append(word)
    return out


# --- the stand-in as a process ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> tuple:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as answer:
        return answer.status, answer.read()


class Standin:
    """The stand-in started with args; stop() sends SIGTERM and returns the exit status."""

    def __init__(self, args: list, tmp_path: Path):
        self.log = tmp_path / f"standin-{time.monotonic_ns()}.log"
        self.handle = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(STANDIN), *args], stdin=subprocess.DEVNULL, stdout=self.handle, stderr=self.handle
        )

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8")

    def wait_healthy(self, port: int, seconds: float = 5) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"stand-in exited {self.process.returncode}:\n{self.text()}"
            try:
                if get(port, "/healthz") == (200, b"ok"):
                    return
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"no ok on /healthz of port {port} within {seconds} s:\n{self.text()}")

    def wait_exit(self, seconds: float = 5) -> int:
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"stand-in still running after {seconds} s:\n{self.text()}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self.handle.close()


@pytest.fixture
def standin(tmp_path):
    started = []

    def start(args: list) -> Standin:
        started.append(Standin([str(arg) for arg in args], tmp_path))
        return started[-1]

    yield start
    for process in started:
        process.close()


@pytest.fixture(scope="module")
def kubeadm_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("kubeadm-standin")
    run_layout("kubeadm", root)
    return root


def kubeadm_args(root: Path, config: Path | None = None, port: int | None = None) -> list:
    """The kubeadm unit's command line under root, with the test's config and healthz port."""
    argv, _env, _files = unit_command("kubeadm", root)
    args = rerooted(argv[1:], root)
    if config is not None:
        args = [f"--config={config}" if word.startswith("--config=") else word for word in args]
    return [
        *args,
        f"--client-ca-file={under(root, '/etc/kubernetes/pki/ca.crt')}",
        "--healthz-port",
        port or free_port(),
    ]


def write_config(tmp_path: Path, root: Path, **changes) -> Path:
    """The kubeadm layout's config.yaml with changes (None removes a key), as a new file."""
    config = yaml.safe_load(under(root, "/var/lib/kubelet/config.yaml").read_text(encoding="utf-8"))
    config["authentication"]["x509"]["clientCAFile"] = str(under(root, "/etc/kubernetes/pki/ca.crt"))
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path = tmp_path / f"config-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# --- the layouts ----------------------------------------------------------------------------------


def test_layout_modes_links_and_idempotence(laid):
    kind, root = laid
    for path, mode in MODES[kind].items():
        info = os.lstat(under(root, path))
        assert stat.S_IMODE(info.st_mode) == mode, f"{path}: {stat.S_IMODE(info.st_mode):04o}, want {mode:04o}"
    for path, target in LINKS[kind].items():
        assert os.readlink(under(root, path)) == target, path
        assert under(root, target).exists(), target
    for entry in layout.plan(kind, b"", layout.HERE / "certs", NODE, NODE_IP):
        if entry.kind != "link":
            assert stat.S_IMODE(os.lstat(under(root, entry.path)).st_mode) == entry.mode, entry.path
    binary = "/usr/bin/kubelet" if kind == "kubeadm" else "/usr/local/bin/kubelet"
    assert under(root, binary).read_bytes() == b"#!/usr/bin/python3\n" + STANDIN.read_bytes()
    before = {path: os.lstat(path).st_mtime_ns for path in root.rglob("*")}
    assert run_layout(kind, root).strip() == "layout: nothing to change"
    assert {path: os.lstat(path).st_mtime_ns for path in root.rglob("*")} == before


def test_kubeadm_files_are_what_kubeadm_leaves(kubeadm_root):
    root = kubeadm_root
    config_text = under(root, "/var/lib/kubelet/config.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(config_text)
    assert (config["apiVersion"], config["kind"]) == ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration")
    top_keys = [line.split(":")[0] for line in config_text.splitlines() if re.match(r"[A-Za-z]", line)]
    assert top_keys == sorted(top_keys), "Go marshals the keys sorted"
    assert config["authentication"]["x509"]["clientCAFile"] == "/etc/kubernetes/pki/ca.crt"
    assert (config["healthzBindAddress"], config["healthzPort"], config["rotateCertificates"]) == (
        "127.0.0.1",
        10248,
        True,
    )
    assert "readOnlyPort" not in config
    kubeconfig = yaml.safe_load(under(root, "/etc/kubernetes/kubelet.conf").read_text(encoding="utf-8"))
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://192.0.2.10:6443"
    assert kubeconfig["users"][0]["user"]["client-certificate"] == layout.CLIENT_CURRENT
    pem = under(root, layout.CLIENT_PEM).read_text(encoding="ascii")
    assert "BEGIN CERTIFICATE" in pem and "BEGIN EC PRIVATE KEY" in pem
    argv, environment, _files = unit_command("kubeadm", root)
    assert argv[0] == "/usr/bin/kubelet"
    assert "--config=/var/lib/kubelet/config.yaml" in argv
    assert "--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock" in argv
    assert environment["KUBELET_EXTRA_ARGS"] == ""


def test_client_pem_name_is_the_certificates_not_before():
    """The dated client pair's name comes from certs/client.crt; regenerated certificates need a new stamp."""
    openssl = subprocess.run(
        [
            "openssl",
            "x509",
            "-noout",
            "-startdate",
            "-dateopt",
            "iso_8601",
            "-in",
            str(KUBELET_DIR / "certs" / "client.crt"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if openssl.returncode != 0:
        pytest.skip(f"no usable openssl here: {openssl.stderr.strip()}")
    start = openssl.stdout.strip().split("=", 1)[1]  # e.g. 2026-11-23 21:47:31Z
    assert re.sub(r"[-: Z]", "-", start).strip("-") == layout.CLIENT_PEM_STAMP


def test_kubespray_unit_and_env_file_agree(tmp_path):
    root = tmp_path / "node"
    run_layout("kubespray", root)
    unit = under(root, "/etc/systemd/system/kubelet.service").read_text(encoding="utf-8")
    exec_start = next(line for line in unit_lines(unit) if line.startswith("ExecStart="))
    used = set(re.findall(r"\$([A-Z_]+)", exec_start))
    argv, _environment, files = unit_command("kubespray", root)
    assert files == ["/etc/kubernetes/kubelet.env"]
    defined = set(parse_env_file(under(root, files[0]).read_text(encoding="utf-8"))) - {"PATH"}
    assert defined <= used, f"set in kubelet.env, not used by the unit: {defined - used}"
    assert argv[0] == "/usr/local/bin/kubelet" and under(root, argv[0]).is_file()
    flags = dict(word.partition("=")[::2] for word in argv[1:])
    assert flags["--hostname-override"] == NODE and flags["--node-ip"] == NODE_IP
    config = yaml.safe_load(under(root, flags["--config"]).read_text(encoding="utf-8"))
    assert config["kind"] == "KubeletConfiguration" and config["protectKernelDefaults"] is True
    assert config["readOnlyPort"] == 0 and config["healthzPort"] == 10248
    assert under(root, flags["--kubeconfig"]).is_file()
    assert under(root, config["authentication"]["x509"]["clientCAFile"]).is_file()
    sysctl = under(root, layout.SYSCTL_FILE).read_text(encoding="utf-8").splitlines()
    assert sorted(sysctl) == sorted(f"{key}={value}" for key, value in layout.KERNEL_DEFAULTS)


# --- the stand-in ---------------------------------------------------------------------------------


def test_units_command_lines_start_the_standin(laid, standin, tmp_path):
    kind, root = laid
    argv, _env, _files = unit_command(kind, root)
    port = free_port()
    ca = "/etc/kubernetes/pki/ca.crt" if kind == "kubeadm" else "/etc/kubernetes/ssl/ca.crt"
    # kubespray's config has protectKernelDefaults: true; this host's sysctls are not the test's business.
    extra = ["--protect-kernel-defaults=false"] if kind == "kubespray" else []
    process = standin(
        [*rerooted(argv[1:], root), f"--client-ca-file={under(root, ca)}", f"--healthz-port={port}", *extra]
    )
    process.wait_healthy(port)
    assert process.stop() == 0
    log = process.text()
    assert log.splitlines()[0].split("] ", 1)[1].startswith(json.dumps(IDENTITY))
    assert f'"Listening" server="healthz" address="127.0.0.1:{port}"' in log
    assert '"readOnlyPort is 0: no read-only server"' in log and 'server="read-only"' not in log


def test_read_only_port_from_config_and_flag(kubeadm_root, standin, tmp_path):
    config_port, flag_port = free_port(), free_port()
    config = write_config(tmp_path, kubeadm_root, readOnlyPort=config_port)
    healthz = free_port()
    process = standin(kubeadm_args(kubeadm_root, config, healthz))
    process.wait_healthy(healthz)
    status, body = get(config_port, "/pods")
    assert status == 200 and json.loads(body)["kind"] == "PodList" and json.loads(body)["items"] == []
    assert get(config_port, "/healthz") == (200, b"ok")
    assert process.stop() == 0

    healthz = free_port()
    process = standin([*kubeadm_args(kubeadm_root, config, healthz), f"--read-only-port={flag_port}"])
    process.wait_healthy(healthz)
    assert get(flag_port, "/healthz") == (200, b"ok")
    with pytest.raises(urllib.error.URLError):
        get(config_port, "/healthz")
    assert process.stop() == 0

    healthz = free_port()
    process = standin([*kubeadm_args(kubeadm_root, config, healthz), "--read-only-port", "0"])
    process.wait_healthy(healthz)
    with pytest.raises(urllib.error.URLError):
        get(config_port, "/pods")
    assert process.stop() == 0


FAILURES = {
    "invalid YAML": ("authentication: [unclosed\n", [], ["error converting YAML to JSON", "line"]),
    "readOnlyPort string": ({"readOnlyPort": "abc"}, [], ["KubeletConfiguration.readOnlyPort of type int32"]),
    "bool given a string": (
        {"authentication": {"anonymous": {"enabled": "false"}}},
        [],
        ["KubeletConfiguration.authentication.anonymous.enabled of type bool"],
    ),
    "duration given a number": ({"streamingConnectionIdleTimeout": 5}, [], ["streamingConnectionIdleTimeout"]),
    "wrong kind": ({"kind": "KubeProxyConfiguration"}, [], ['no kind "KubeProxyConfiguration"']),
    "readOnlyPort out of range": ({"readOnlyPort": 70000}, [], ["readOnlyPort (--read-only-port) 70000"]),
    "unknown cipher": (
        {"tlsCipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "TLS_NOT_A_CIPHER"]},
        [],
        ["Cipher suite TLS_NOT_A_CIPHER not supported"],
    ),
    "garbage tlsCertFile": ({"tlsCertFile": "GARBAGE", "tlsPrivateKeyFile": "KEY"}, [], ["GARBAGE", "PEM"]),
    "missing tlsPrivateKeyFile": ({"tlsCertFile": "CERT"}, [], ["tlsPrivateKeyFile"]),
    "garbage client CA": ({}, ["--client-ca-file=GARBAGE"], ["unable to load client CA file", "GARBAGE"]),
    "no kubeconfig at all": (
        {},
        ["--kubeconfig=/nonexistent/kubelet.conf", "--bootstrap-kubeconfig=/nonexistent/b.conf"],
        ["unable to load bootstrap kubeconfig", "/nonexistent/b.conf"],
    ),
    "bad flag value": ({}, ["--read-only-port", "abc"], ['invalid argument "abc" for "--read-only-port" flag']),
    "boolean flag takes no word": ({}, ["--anonymous-auth", "false"], ['unknown command "false"']),
}


NAMES_THE_CONFIG_FILE = {
    "invalid YAML",
    "readOnlyPort string",
    "bool given a string",
    "duration given a number",
    "wrong kind",
    "readOnlyPort out of range",
}


@pytest.mark.parametrize("case", FAILURES)
def test_standin_refuses_a_bad_start(case, kubeadm_root, standin, tmp_path):
    change, extra, wanted = FAILURES[case]
    files = {"GARBAGE": "this is not PEM\n", "KEY": (KUBELET_DIR / "certs" / "kubelet.key").read_text(encoding="ascii")}
    files["CERT"] = (KUBELET_DIR / "certs" / "kubelet.crt").read_text(encoding="ascii")
    paths = {name: tmp_path / name.lower() for name in files}
    for name, text in files.items():
        paths[name].write_text(text, encoding="ascii")

    def swap(value):
        if isinstance(value, str):
            return str(paths[value]) if value in paths else value
        if isinstance(value, dict):
            return {key: swap(inner) for key, inner in value.items()}
        return value

    if isinstance(change, str):
        config = tmp_path / "broken.yaml"
        config.write_text(change, encoding="utf-8")
    else:
        config = write_config(tmp_path, kubeadm_root, **swap(change))
    extra = [re.sub(r"GARBAGE", str(paths["GARBAGE"]), word) for word in extra]
    started = time.monotonic()
    process = standin([*kubeadm_args(kubeadm_root, config), *extra])
    assert process.wait_exit(5) == 1, process.text()
    assert time.monotonic() - started < 5
    failure = [line for line in process.text().splitlines() if line.startswith("E")]
    assert len(failure) == 1 and '"command failed"' in failure[0], process.text()
    error = json.loads(re.search(r' err=("(?:[^"\\]|\\.)*")', failure[0]).group(1))
    for text in wanted:
        assert swap(text) in error or text in error, f"{text!r} not in {error!r}"
    if case in NAMES_THE_CONFIG_FILE:
        assert str(config) in error, "the kubelet names the config file it cannot load or validate"


def test_protect_kernel_defaults_follows_this_hosts_sysctls(kubeadm_root, standin, tmp_path):
    """The stand-in reads the real /proc/sys: which outcome is right depends on this host."""
    wrong = []
    for flag, expected in (
        ("vm/overcommit_memory", 1),
        ("vm/panic_on_oom", 0),
        ("kernel/panic", 10),
        ("kernel/panic_on_oops", 1),
        ("kernel/keys/root_maxkeys", 1000000),
        ("kernel/keys/root_maxbytes", 25000000),
    ):
        actual = int(Path("/proc/sys", flag).read_text(encoding="ascii").split()[0])
        if actual != expected:
            wrong.append(f"invalid kernel flag: {flag}, expected value: {expected}, actual value: {actual}")
    config = write_config(tmp_path, kubeadm_root, protectKernelDefaults=True)
    port = free_port()
    process = standin(kubeadm_args(kubeadm_root, config, port))
    if wrong:
        assert process.wait_exit(5) == 1
        assert wrong[0] in process.text()
    else:
        process.wait_healthy(port)
        assert process.stop() == 0
