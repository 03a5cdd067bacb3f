"""After hardening and a reboot the node still works as a Kubernetes node."""

from __future__ import annotations

IMAGE = "localhost/nodelab/busybox:latest"


def test_containerd_runs_a_container_from_the_local_image(host):
    assert host.service("containerd").is_running
    # The image is imported at boot by a oneshot unit; start returns once that has finished.
    host.check_output("systemctl start nodelab-import-image.service")
    out = host.check_output(f"ctr -n k8s.io run --rm {IMAGE} verify-hello /bin/echo hello from a hardened node")
    assert out.strip() == "hello from a hardened node"


def test_container_networking_modules_and_forwarding(host):
    modules = {line.split()[0] for line in host.file("/proc/modules").content_string.splitlines()}
    assert {"overlay", "br_netfilter"} <= modules
    assert host.sysctl("net.ipv4.ip_forward") == 1


def test_kubelet_protected_kernel_defaults_hold(host):
    wanted = {
        "vm.overcommit_memory": 1,
        "vm.panic_on_oom": 0,
        "kernel.panic": 10,
        "kernel.panic_on_oops": 1,
        "kernel.keys.root_maxkeys": 1000000,
        "kernel.keys.root_maxbytes": 25000000,
    }
    assert {key: host.sysctl(key) for key in wanted} == wanted


def test_auditd_runs_with_the_rules_loaded(host):
    assert host.service("auditd").is_running
    assert host.service("auditd").is_enabled
    rules = host.check_output("auditctl -l")
    assert "-k identity" in rules or "key=identity" in rules
    assert "containerd" in rules


def test_node_is_up_and_takes_logins(host):
    """Not halted, not in single-user or emergency mode, and SSH logins work (this test logged in)."""
    state = host.check_output("systemctl is-system-running --wait || true").strip()
    failed = host.check_output("systemctl list-units --failed --no-legend --plain || true")
    assert state == "running", f"system is {state}; failed units: {failed}"
    assert host.check_output("id -u") == "0"
    assert host.service("ssh").is_running
