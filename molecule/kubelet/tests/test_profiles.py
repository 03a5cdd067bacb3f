# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pod profiles confine real containers: containerd and runc from Debian run the lab's busybox
image with each profile, after converge and the side effects. That the profiles confine a container
started as soon as containerd is up after a reboot is shown in the default scenario, which reboots.

Each proof is a check function that asserts what confinement looks like from inside the container
(it started, the operation was refused) and from the kernel (the AppArmor denial in its audit
records). The same check against a profile that is not loaded, or a seccomp file that is not
there, must fail: the tests show it, so a check that passes says the profile did the refusing.
"""

from __future__ import annotations

import contextlib
import uuid

import pytest

IMAGE = "localhost/nodelab/busybox:latest"
PROFILE_DIR = "/etc/nodeguard/apparmor"
SECCOMP_DIR = "/var/lib/kubelet/seccomp/nodeguard"
# AppArmor's denials are kernel audit records: in auditd's log while auditd runs (it does on a
# hardened node), in the kernel's ring buffer otherwise.
KERNEL_LOG = "grep -h 'apparmor=\"DENIED\"' /var/log/audit/audit.log; dmesg | grep 'apparmor=\"DENIED\"'"


def container(host, command: str, *, apparmor: str | None = None, seccomp: str | None = None):
    """Run COMMAND in a fresh container of the lab image, with the given profiles."""
    options = []
    if apparmor:
        options.append(f"--apparmor-profile {apparmor}")
    if seccomp:
        options.append(f"--seccomp --seccomp-profile {seccomp}")
    name = f"probe-{uuid.uuid4().hex[:10]}"
    return host.run(
        f"ctr -n k8s.io run --rm {' '.join(options)} {IMAGE} {name} /bin/busybox sh -c 'echo started; {command}'"
    )


def assert_write_refused(host, profile: str, path: str) -> None:
    """A write to PATH inside a container confined by PROFILE is refused, and the kernel logs it."""
    done = container(host, f"echo x > {path} && echo written", apparmor=profile)
    output = done.stdout + done.stderr
    assert "started" in output, f"the container did not start: {output}"
    assert "written" not in output, f"{path} was written under {profile}"
    assert "Permission denied" in output, output
    # The record's fields differ between kernels (6.12 adds class="file"); these three do not.
    fields = ('apparmor="DENIED"', f'profile="{profile}"', f'name="{path}"')
    records = [line for line in host.run(KERNEL_LOG).stdout.splitlines() if all(f in line for f in fields)]
    assert records, f"no AppArmor denial of {path} by {profile} in the kernel's audit records"


def assert_raw_socket_refused(host, profile: str) -> None:
    done = container(host, "ping -c 1 -W 1 127.0.0.1 && echo pinged", apparmor=profile)
    output = done.stdout + done.stderr
    assert "started" in output, f"the container did not start: {output}"
    assert "pinged" not in output
    assert "can't create raw socket: Permission denied" in output, output


def assert_unshare_refused(host, profile: str) -> None:
    """unshare(2) inside a container under PROFILE fails with EPERM."""
    done = container(host, "unshare -U true && echo unshared", seccomp=profile)
    output = done.stdout + done.stderr
    assert "started" in output, f"the container did not start: {output}"
    assert "unshared" not in output
    assert "Operation not permitted" in output, output


@pytest.fixture(scope="module", autouse=True)
def image(host):
    # A oneshot unit: start returns once the import at boot has finished.
    host.run_expect([0], "systemctl start nodelab-import-image.service")


def marker() -> str:
    return f"/etc/nodeguard-probe-{uuid.uuid4().hex[:10]}"


def test_deny_write_profile_refuses_a_write_and_the_kernel_logs_it(host):
    assert_write_refused(host, "nodeguard-deny-write", marker())


def test_deny_write_profile_lets_the_declared_paths_be_written(host):
    done = container(host, "echo x > /tmp/allowed && cat /tmp/allowed", apparmor="nodeguard-deny-write")
    assert done.rc == 0 and done.stdout.split() == ["started", "x"], done.stdout + done.stderr


def test_without_profiles_the_same_write_raw_socket_and_unshare_succeed(host):
    path = marker()
    done = container(
        host,
        f"echo x > {path} && echo written; ping -c 1 -W 1 127.0.0.1 && echo pinged; unshare -U true && echo unshared",
    )
    assert done.rc == 0, done.stdout + done.stderr
    # The container's ping uses a raw socket: CAP_NET_RAW is a default capability.
    assert {"written", "pinged", "unshared"} <= set(done.stdout.split()), done.stdout + done.stderr


@contextlib.contextmanager
def unloaded(host, profile: str):
    """PROFILE removed from the kernel for the block, loaded again from its file after it."""
    host.run_expect([0], f"apparmor_parser --remove {PROFILE_DIR}/{profile}")
    try:
        yield
    finally:
        host.run_expect([0], f"apparmor_parser --replace {PROFILE_DIR}/{profile}")


def test_the_write_check_fails_when_the_profile_is_not_loaded(host):
    with unloaded(host, "nodeguard-deny-write"), pytest.raises(AssertionError, match="did not start"):
        assert_write_refused(host, "nodeguard-deny-write", marker())
    assert "nodeguard-deny-write (enforce)" in host.file("/sys/kernel/security/apparmor/profiles").content_string


def test_deny_raw_net_profile_refuses_raw_sockets(host):
    assert_raw_socket_refused(host, "nodeguard-deny-raw-net")


def test_the_raw_socket_check_fails_when_the_profile_is_not_loaded(host):
    with unloaded(host, "nodeguard-deny-raw-net"), pytest.raises(AssertionError, match="did not start"):
        assert_raw_socket_refused(host, "nodeguard-deny-raw-net")


def test_web_profile_keeps_the_filesystem_read_only_and_refuses_raw_sockets(host):
    assert_write_refused(host, "nodeguard-web", marker())
    assert_raw_socket_refused(host, "nodeguard-web")
    done = container(host, "echo x > /tmp/cache && httpd -p 8080 && echo serving", apparmor="nodeguard-web")
    assert done.rc == 0 and "serving" in done.stdout, done.stdout + done.stderr


def test_strict_seccomp_profile_refuses_unshare_with_eperm(host):
    assert_unshare_refused(host, f"{SECCOMP_DIR}/strict.json")


def test_the_unshare_check_fails_when_the_profile_is_not_there(host):
    strict = f"{SECCOMP_DIR}/strict.json"
    host.run_expect([0], f"mv {strict} {strict}.away")
    try:
        with pytest.raises(AssertionError, match="did not start"):
            assert_unshare_refused(host, strict)
    finally:
        host.run_expect([0], f"mv {strict}.away {strict}")


def test_deny_by_default_template_runs_a_shell_and_refuses_the_rest(host):
    done = container(host, "ls /bin > /dev/null && echo read", seccomp=f"{SECCOMP_DIR}/deny-by-default.json")
    assert done.rc == 0 and "read" in done.stdout, done.stdout + done.stderr
    assert_unshare_refused(host, f"{SECCOMP_DIR}/deny-by-default.json")


def test_audit_profile_allows_everything_and_logs_the_system_calls(host):
    def seccomp_records() -> int:
        return int(host.check_output("grep -c 'type=SECCOMP' /var/log/audit/audit.log || true") or 0)

    before = seccomp_records()
    done = container(host, "unshare -U true && echo unshared", seccomp=f"{SECCOMP_DIR}/audit.json")
    assert done.rc == 0 and "unshared" in done.stdout, done.stdout + done.stderr
    assert seccomp_records() > before


def test_the_node_reaches_no_package_archive(host):
    # Lab traffic stays in the lab: the images empty the node's apt sources, and the only source
    # prepare adds is the controller's loopback (10.0.2.2 from the node), which serves runsc.
    main = host.file("/etc/apt/sources.list").content_string
    assert "http" not in main and "# The lab's nodes reach no package archive." in main
    lines = host.check_output("cat /etc/apt/sources.list.d/* 2>/dev/null || true").splitlines()
    sources = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    assert sources and all(line.split()[2].startswith("http://10.0.2.2:") for line in sources), sources
