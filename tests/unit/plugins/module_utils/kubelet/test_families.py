# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet families on a node laid out as kubeadm leaves it, in a temporary tree.

systemctl is scripted; the kubelet's process is a /proc entry of the tree; the healthz probe is
replaced by a table of answers. Files, modes, flags and the kube-bench verdicts are real.
"""

from __future__ import annotations

import os
import typing as t

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import families, restart
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.config import Options
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from ..system.conftest import FakeModule, Tree, control

BENCHMARK = "CIS Kubernetes Benchmark v1.12"
UNIT = "/usr/lib/systemd/system/kubelet.service"
DROP_IN = "/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
FLAGS = "/var/lib/kubelet/kubeadm-flags.env"
CONFIG = "/var/lib/kubelet/config.yaml"

UNIT_TEXT = """\
[Unit]
Description=kubelet: The Kubernetes Node Agent
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""
DROP_IN_TEXT = """\
# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""
FLAGS_TEXT = (
    'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///var/run/containerd/containerd.sock '
    '--pod-infra-container-image=registry.k8s.io/pause:3.10"\n'
)
# kubeadm 1.32's KubeletConfiguration, shortened; a comment added by hand must survive.
CONFIG_TEXT = """\
apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
cgroupDriver: systemd
clusterDNS:
- 10.96.0.10
clusterDomain: cluster.local
# pinned by the platform team
healthzBindAddress: 127.0.0.1
healthzPort: 10248
kind: KubeletConfiguration
rotateCertificates: true
staticPodPath: /etc/kubernetes/manifests
streamingConnectionIdleTimeout: 0s
"""
KERNEL = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}
CIPHERS = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]


def bench(section: str) -> list[dict]:
    return [{"benchmark": BENCHMARK, "section": section}]


def catalog() -> list[dict]:
    return [
        control(
            "cis.kubelet.service_file_mode",
            "kubelet_files",
            {"file": "service", "mode": "0600"},
            benchmarks=bench("4.1.1"),
        ),
        control(
            "cis.kubelet.config_mode", "kubelet_files", {"file": "config", "mode": "0600"}, benchmarks=bench("4.1.9")
        ),
        control(
            "cis.kubelet.client_ca_mode",
            "kubelet_files",
            {"file": "client_ca", "mode": "0644"},
            benchmarks=bench("4.1.7"),
        ),
        control(
            "cis.kubelet.proxy_kubeconfig_mode",
            "kubelet_files",
            {"file": "proxy_kubeconfig", "mode": "0600"},
            benchmarks=bench("4.1.3"),
        ),
        control(
            "cis.kubelet.anonymous_auth",
            "kubelet_config",
            {"settings": {"authentication.anonymous.enabled": False}},
            benchmarks=bench("4.2.1"),
        ),
        control(
            "cis.kubelet.client_ca_file",
            "kubelet_config",
            {"settings": {"authentication.x509.clientCAFile": "/etc/kubernetes/ssl/ca.crt"}, "when_absent": True},
            benchmarks=bench("4.2.3"),
        ),
        control(
            "cis.kubelet.read_only_port", "kubelet_config", {"settings": {"readOnlyPort": 0}}, benchmarks=bench("4.2.4")
        ),
        control(
            "cis.kubelet.streaming_idle_timeout",
            "kubelet_config",
            {"settings": {"streamingConnectionIdleTimeout": "4h"}},
            benchmarks=bench("4.2.5"),
        ),
        control(
            "cis.kubelet.hostname_override",
            "kubelet_config",
            {"flag_absent": "hostname-override", "remove": False},
            benchmarks=bench("4.2.7"),
        ),
        control(
            "cis.kubelet.rotate_server_certificates",
            "kubelet_config",
            {"settings": {"featureGates.RotateKubeletServerCertificate": True}},
            benchmarks=bench("4.2.11"),
        ),
        control(
            "cis.kubelet.tls_cipher_suites",
            "kubelet_config",
            {"settings": {"tlsCipherSuites": CIPHERS}},
            benchmarks=bench("4.2.12"),
        ),
        control(
            "cis.kubelet.seccomp_default",
            "kubelet_config",
            {"settings": {"seccompDefault": True}},
            benchmarks=bench("4.2.14"),
        ),
        control("k8s.kubelet.protect_kernel_defaults", "kubelet_config", {"settings": {"protectKernelDefaults": True}}),
        control("k8s.kubelet.kube_bench_paths", "kubelet_paths", {}),
    ]


class Clock:
    """time for restart.py: every look at the clock is a second later, sleeping takes no time."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now

    def sleep(self, _seconds: float) -> None:
        return None


class Kubelet:
    """A kubeadm node in a tree, with systemctl scripted and the healthz answers under test control."""

    def __init__(self, tree: Tree, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tree = tree
        self.installed = True
        self.active = True
        self.healthy = True
        self.restarts = 0
        tree.write(UNIT, UNIT_TEXT)
        tree.write(DROP_IN, DROP_IN_TEXT)
        tree.write(FLAGS, FLAGS_TEXT)
        tree.write("/etc/default/kubelet", "KUBELET_EXTRA_ARGS=\n")
        tree.write(CONFIG, CONFIG_TEXT)
        tree.write("/etc/kubernetes/kubelet.conf", "apiVersion: v1\nkind: Config\n", 0o600)
        tree.write("/etc/kubernetes/pki/ca.crt", "-----BEGIN CERTIFICATE-----\n", 0o644)
        for name, value in KERNEL.items():
            target = tree.base / "proc" / "sys" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(value + "\n")
        self.start()
        monkeypatch.setattr(restart.Change, "_probe", lambda _self, _url: None if self.healthy else "refused")
        monkeypatch.setattr(restart, "time", Clock())

    def start(self) -> None:
        """The process systemd would start now: /proc/4242 with the command line of the unit."""
        text = self.tree.read(FLAGS) or ""
        extra = text.split('"')[1].split() if '"' in text else []
        argv = [
            "/usr/bin/kubelet",
            "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
            "--kubeconfig=/etc/kubernetes/kubelet.conf",
            "--config=/var/lib/kubelet/config.yaml",
            *extra,
        ]
        self.tree.write("/proc/4242/comm", "kubelet\n")
        self.tree.write("/proc/4242/cmdline", "\0".join(argv) + "\0")

    def module(self, controls: list[dict], check_mode: bool = False) -> FakeModule:
        module = FakeModule(controls, check_mode=check_mode)
        module.commands["systemctl"] = self._systemctl
        module.commands["journalctl"] = lambda argv: (0, "E config refused\n", "")
        return module

    def _systemctl(self, argv: list[str]) -> tuple[int, str, str]:
        if argv[1] == "restart" and argv[2] == "kubelet.service":
            return self._restart(argv)
        if argv[1] == "daemon-reload":
            return 0, "", ""
        if argv[1] != "show":
            return 1, "", f"not scripted: {argv}"
        if "kube-proxy.service" in argv:
            return 0, "ActiveState=inactive\n", ""
        if not self.installed:
            return 0, "LoadState=not-found\nActiveState=inactive\nMainPID=0\n", ""
        return (
            0,
            f"LoadState=loaded\nActiveState={'active' if self.active else 'inactive'}\nSubState=running\n"
            f"FragmentPath={UNIT}\nDropInPaths={DROP_IN}\nMainPID={4242 if self.active else 0}\n"
            "UnitFileState=enabled\n",
            "",
        )

    def _restart(self, argv: list[str]) -> tuple[int, str, str]:
        self.restarts += 1
        self.start()
        return 0, "", ""

    def run(self, controls: list[dict] | None = None, check_mode: bool = False, **options: t.Any) -> dict:
        module = self.module(controls if controls is not None else catalog(), check_mode)
        node = self.tree.node(module)
        return engine.run(module, node, families.build(Options(restart_timeout=10, **options)))


@pytest.fixture
def kubelet(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Kubelet:
    return Kubelet(Tree(tmp_path), monkeypatch)


def by_id(result: dict) -> dict[str, dict]:
    return {r["id"]: r for r in result["controls"]}


def statuses(result: dict, status: str) -> list[str]:
    return sorted(r["id"] for r in result["controls"] if r["status"] == status)


def verdict(result: dict, cid: str) -> str:
    return by_id(result)[cid]["details"]["kube_bench"][0]["state"]


def test_audit_reports_each_failing_control_and_changes_nothing(kubelet: Kubelet) -> None:
    before = kubelet.tree.snapshot()
    result = kubelet.run(check_mode=True)
    assert statuses(result, "drift") == [
        "cis.kubelet.config_mode",
        "cis.kubelet.read_only_port",
        "cis.kubelet.rotate_server_certificates",
        "cis.kubelet.seccomp_default",
        "cis.kubelet.service_file_mode",
        "cis.kubelet.streaming_idle_timeout",
        "cis.kubelet.tls_cipher_suites",
        "k8s.kubelet.protect_kernel_defaults",
    ]
    assert statuses(result, "skipped") == ["cis.kubelet.proxy_kubeconfig_mode"]
    assert kubelet.tree.snapshot() == before
    assert kubelet.restarts == 0
    # The service control names both unit files, the package drop-in kube-bench ignores included.
    service = by_id(result)["cis.kubelet.service_file_mode"]
    assert {d["item"] for d in service["differences"]} == {UNIT, DROP_IN}
    # kube-bench is lenient where the key is absent or only present: 4.2.4 and 4.2.14 pass there.
    assert verdict(result, "cis.kubelet.read_only_port") == "PASS"
    assert verdict(result, "cis.kubelet.streaming_idle_timeout") == "PASS"  # "0s" is not "0" to kube-bench
    assert verdict(result, "cis.kubelet.tls_cipher_suites") == "WARN"
    assert verdict(result, "cis.kubelet.config_mode") == "FAIL"


def test_harden_merges_settings_keeps_the_rest_and_restarts_once(kubelet: Kubelet) -> None:
    result = kubelet.run()
    assert statuses(result, "error") == []
    assert "cis.kubelet.read_only_port" in statuses(result, "fixed")
    assert kubelet.restarts == 1
    text = kubelet.tree.read(CONFIG)
    assert "# pinned by the platform team\nhealthzBindAddress: 127.0.0.1\n" in text
    assert "clusterDNS:\n- 10.96.0.10\n" in text
    assert "streamingConnectionIdleTimeout: 4h\n" in text
    assert "readOnlyPort: 0\n" in text
    assert "seccompDefault: true\n" in text
    assert "featureGates:\n  RotateKubeletServerCertificate: true\n" in text
    assert oct(os.stat(kubelet.tree.file(CONFIG)).st_mode & 0o777) == "0o600"
    assert oct(os.stat(kubelet.tree.file(DROP_IN)).st_mode & 0o777) == "0o600"
    for cid in ("cis.kubelet.read_only_port", "cis.kubelet.tls_cipher_suites", "cis.kubelet.config_mode"):
        assert verdict(result, cid) == "PASS", cid
    again = kubelet.run()
    assert again["changed"] is False
    assert statuses(again, "drift") + statuses(again, "fixed") + statuses(again, "error") == []
    assert kubelet.restarts == 1


def test_an_unhealthy_kubelet_gets_its_previous_configuration_back(kubelet: Kubelet) -> None:
    kubelet.healthy = False
    with pytest.raises(engine.ApplyError, match="did not become healthy within 10 s") as failure:
        kubelet.run()
    assert "the previous configuration is back but the kubelet is still not healthy" in str(failure.value)
    assert "E config refused" in str(failure.value)
    assert kubelet.tree.read(CONFIG) == CONFIG_TEXT
    # A run is all or nothing: the modes set before the failed change are put back too.
    assert oct(os.stat(kubelet.tree.file(CONFIG)).st_mode & 0o777) == "0o644"
    assert kubelet.restarts == 2


@pytest.mark.parametrize(
    ("flag", "where"),
    [
        ("--read-only-port=10255", f"{FLAGS} line 1 (KUBELET_KUBEADM_ARGS)"),
        ("--read-only-port 10255", f"{FLAGS} line 1 (KUBELET_KUBEADM_ARGS)"),
    ],
)
def test_a_flag_beats_the_file_and_is_removed_only_when_asked(kubelet: Kubelet, flag: str, where: str) -> None:
    kubelet.tree.write(FLAGS, FLAGS_TEXT.replace('="', f'="{flag} '))
    kubelet.start()
    controls = [c for c in catalog() if c["id"] == "cis.kubelet.read_only_port"]
    audit = kubelet.run(controls, check_mode=True)
    [result] = audit["controls"]
    assert result["status"] == "drift"
    assert {"item": "--read-only-port", "where": where, "expected": None, "actual": "10255"} in result["differences"]
    assert result["details"]["kube_bench"][0]["state"] == "WARN"
    kept = kubelet.run(controls)
    assert kept["controls"][0]["status"] == "drift"
    assert "kubelet_remove_overriding_flags" in kept["controls"][0]["reason"]
    assert "10255" in kubelet.tree.read(FLAGS)
    removed = kubelet.run(controls, remove_overriding_flags=True)
    assert removed["controls"][0]["status"] == "fixed"
    assert kubelet.tree.read(FLAGS) == FLAGS_TEXT
    assert removed["controls"][0]["details"]["kube_bench"][0]["state"] == "PASS"


def test_hostname_override_is_reported_and_kept(kubelet: Kubelet) -> None:
    kubelet.tree.write("/etc/default/kubelet", "KUBELET_EXTRA_ARGS=--hostname-override=node1\n")
    controls = [c for c in catalog() if c["id"] == "cis.kubelet.hostname_override"]
    result = kubelet.run(controls)["controls"][0]
    assert result["status"] == "drift"
    assert "/etc/default/kubelet line 1 (KUBELET_EXTRA_ARGS)" in result["reason"]
    controls[0]["spec"] = {"flag_absent": "hostname-override", "remove": True}
    assert kubelet.run(controls)["controls"][0]["status"] == "fixed"
    assert kubelet.tree.read("/etc/default/kubelet") == "KUBELET_EXTRA_ARGS=\n"


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (CONFIG_TEXT.replace("kind: KubeletConfiguration", "kind: KubeletConfiguration\n  : ["), r"line \d+"),
        (CONFIG_TEXT + "readOnlyPort: closed\n", r"readOnlyPort is 'closed', which the kubelet refuses"),
        (
            CONFIG_TEXT.replace("kind: KubeletConfiguration", "kind: KubeProxyConfiguration"),
            "not a KubeletConfiguration",
        ),
    ],
)
def test_a_configuration_the_kubelet_cannot_read_fails_untouched(kubelet: Kubelet, broken: str, message: str) -> None:
    kubelet.tree.write(CONFIG, broken)
    before = kubelet.tree.snapshot()
    with pytest.raises(ControlInputError, match=message) as failure:
        kubelet.run()
    assert "nothing was changed" in str(failure.value)
    assert kubelet.tree.snapshot() == before


def test_kernel_settings_protect_kernel_defaults_needs_are_checked_first(kubelet: Kubelet) -> None:
    (kubelet.tree.base / "proc" / "sys" / "vm" / "overcommit_memory").write_text("0\n")
    controls = [c for c in catalog() if c["id"] == "k8s.kubelet.protect_kernel_defaults"]
    result = kubelet.run(controls)["controls"][0]
    assert result["status"] == "error"
    assert "vm.overcommit_memory" in result["reason"] and "kernel role" in result["reason"]
    assert "protectKernelDefaults" not in kubelet.tree.read(CONFIG)


def test_an_unfixable_control_keeps_its_changes_out_of_the_shared_write(kubelet: Kubelet) -> None:
    (kubelet.tree.base / "proc" / "sys" / "vm" / "overcommit_memory").write_text("0\n")
    wanted = ("k8s.kubelet.protect_kernel_defaults", "cis.kubelet.read_only_port")
    controls = [c for c in catalog() if c["id"] in wanted]
    controls.append(
        control(
            "cis.kubelet.tls_certificate",
            "kubelet_config",
            {"settings": {"tlsCertFile": "/var/lib/kubelet/pki/absent.crt"}},
        )
    )
    result = by_id(kubelet.run(controls))
    assert result["cis.kubelet.read_only_port"]["status"] == "fixed"
    assert result["k8s.kubelet.protect_kernel_defaults"]["status"] == "error"
    assert result["cis.kubelet.tls_certificate"]["status"] == "error"
    assert "/var/lib/kubelet/pki/absent.crt does not exist" in result["cis.kubelet.tls_certificate"]["reason"]
    text = kubelet.tree.read(CONFIG)
    assert "readOnlyPort: 0\n" in text
    assert "protectKernelDefaults" not in text and "tlsCertFile" not in text


def test_a_stale_file_kube_bench_would_judge_is_reported(kubelet: Kubelet) -> None:
    kubelet.tree.write("/etc/kubernetes/kubelet-config.yaml", CONFIG_TEXT)
    controls = [c for c in catalog() if c["id"] == "k8s.kubelet.kube_bench_paths"]
    result = kubelet.run(controls)["controls"][0]
    assert result["status"] == "drift"
    assert result["differences"][0]["actual"] == "/etc/kubernetes/kubelet-config.yaml"
    assert result["differences"][0]["expected"] == CONFIG


def test_no_kubelet_skips_everything(kubelet: Kubelet) -> None:
    kubelet.installed = False
    result = kubelet.run()
    assert {r["status"] for r in result["controls"]} == {"skipped"}
    assert "kubelet.service is not installed" in result["controls"][0]["reason"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"settings": {"readOnlyPort": "0"}}, "readOnlyPort must be an integer"),
        ({"settings": {"readonlyport": 0}}, "not a managed key"),
        (
            {"settings": {"tlsCipherSuites": ["TLS_RSA_WITH_RC4_128_SHA", "TLS_NOPE"]}},
            "unknown cipher suites: TLS_NOPE",
        ),
        ({"settings": {"streamingConnectionIdleTimeout": "5 minutes"}}, "must be a duration"),
        ({"flag_absent": "--hostname-override"}, "without dashes"),
        ({"settings": {}, "flag_absent": "x"}, "spec must be"),
    ],
)
def test_bad_specs_are_refused_before_anything_is_read(kubelet: Kubelet, spec: dict, message: str) -> None:
    with pytest.raises(ControlInputError, match=message):
        kubelet.run([control("cis.kubelet.x", "kubelet_config", spec)])
    assert kubelet.restarts == 0
