# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether the node can start hardware-virtualised sandboxes (Kata Containers' VMs)."""

from __future__ import annotations

import os
import re
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils._files import read_text
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths

CPU_FLAGS = re.compile(r"^flags\s*:(.*)$", re.MULTILINE)


def missing_virtualisation(paths: NodePaths, detect_vm: t.Callable[[], str] | None = None) -> str | None:
    """Why hardware virtualisation is unusable here, or None when /dev/kvm opens and the CPU has it.

    DETECT_VM names the machine the node runs in (systemd-detect-virt --vm). In a machine that qemu
    emulates without KVM, the CPU's virtualisation extensions are emulated in software as well:
    /dev/kvm works there, but a VM inside would run slower still, far too slow for Kata's pods.
    """
    cpuinfo = read_text(paths.conf("/proc/cpuinfo")) or ""
    flags = {word for line in CPU_FLAGS.findall(cpuinfo) for word in line.split()}
    kvm = paths.conf("/dev/kvm")
    # aarch64 lists no vmx/svm; /dev/kvm is what counts there.
    if flags and not flags & {"vmx", "svm"} and "aarch64" not in os.uname().machine:
        return "the CPU offers no hardware virtualisation (neither vmx nor svm in /proc/cpuinfo)"
    if not os.path.exists(kvm):
        return "/dev/kvm is missing (no KVM: enable virtualisation for this machine, or nested virtualisation for a VM)"
    try:
        fd = os.open(kvm, os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        return f"/dev/kvm cannot be opened: {exc.strerror}"
    os.close(fd)
    machine = detect_vm() if detect_vm else ""
    if machine == "qemu":
        return (
            "the node is a machine qemu emulates without KVM (systemd-detect-virt: qemu): its virtualisation "
            "extensions are emulated in software, too slow for Kata's VMs"
        )
    return None
