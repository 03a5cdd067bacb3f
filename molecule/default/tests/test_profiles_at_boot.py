# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pod profiles are in force from boot: the harden playbook's AppArmor profiles are loaded
before containerd starts, and containers that a unit started as soon as containerd was up, in the
boot verify runs in, were confined (the side effect installed that probe before the reboot).
The probe also ran the same commands without the profiles, where they succeed: the refusals came
from the profiles (the kubelet scenario's test_profiles.py shows it for each profile in turn).
"""

from __future__ import annotations


def test_after_the_reboot_a_container_started_with_containerd_was_confined(host):
    probe = "/var/lib/nodeguard-lab-boot-probe"
    assert host.file(f"{probe}/boot_id").content_string == host.file("/proc/sys/kernel/random/boot_id").content_string
    apparmor = host.file(f"{probe}/apparmor").content_string
    assert "started" in apparmor and "can't create /etc/boot-probe: Permission denied" in apparmor, apparmor
    assert "rc=0" not in apparmor
    seccomp = host.file(f"{probe}/seccomp").content_string
    assert "started" in seccomp and "Operation not permitted" in seccomp, seccomp
    assert "rc=0" not in seccomp


def test_after_the_reboot_the_same_commands_succeeded_without_the_profiles(host):
    """The refusals above came from the profiles: the same write and unshare, unconfined, worked."""
    unconfined = host.file("/var/lib/nodeguard-lab-boot-probe/unconfined").content_string
    assert "started" in unconfined and "both" in unconfined and "rc=0" in unconfined, unconfined


def test_profiles_are_loaded_at_boot_before_containerd_starts(host):
    def monotonic(unit: str, field: str) -> int:
        return int(host.check_output(f"systemctl show -P {field} {unit}"))

    loaded = monotonic("nodeguard-apparmor.service", "ActiveEnterTimestampMonotonic")
    started = monotonic("containerd.service", "ExecMainStartTimestampMonotonic")
    assert 0 < loaded < started
    assert host.service("nodeguard-apparmor.service").is_enabled
