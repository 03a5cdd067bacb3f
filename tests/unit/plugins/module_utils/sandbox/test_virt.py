# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether a node can start Kata's VMs: CPU flags in /proc/cpuinfo and /dev/kvm, read under the node's root."""

from __future__ import annotations

import types

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import virt

NO_CPU = "the CPU offers no hardware virtualisation (neither vmx nor svm in /proc/cpuinfo)"
NO_KVM = "/dev/kvm is missing (no KVM: enable virtualisation for this machine, or nested virtualisation for a VM)"


def cpuinfo(*flag_lines: str) -> str:
    return "".join(
        f"processor\t: {number}\nvendor_id\t: GenuineIntel\nflags\t\t: {flags}\nbugs\t\t: spectre_v1\n\n"
        for number, flags in enumerate(flag_lines)
    )


@pytest.fixture
def machine(monkeypatch):
    """Pretend to be an x86_64 machine unless a test says otherwise."""

    def set_to(name: str) -> None:
        monkeypatch.setattr(virt.os, "uname", lambda: types.SimpleNamespace(machine=name))

    set_to("x86_64")
    return set_to


@pytest.mark.parametrize(
    ("cpu", "kvm", "expected"),
    [
        (cpuinfo("fpu vme vmx sse2", "fpu vme vmx sse2"), True, None),
        (cpuinfo("fpu svm sse2"), True, None),
        (cpuinfo("fpu vme sse2 hypervisor", "fpu vme sse2 hypervisor"), True, NO_CPU),
        (cpuinfo("fpu vme sse2 hypervisor"), False, NO_CPU),
        (cpuinfo("fpu vmx sse2"), False, NO_KVM),
        # No flags line (or no cpuinfo at all): /dev/kvm alone decides.
        ("processor\t: 0\n", True, None),
        (None, True, None),
        (None, False, NO_KVM),
    ],
)
def test_missing_virtualisation(tree, machine, cpu, kvm, expected):
    if cpu is not None:
        tree.write("/proc/cpuinfo", cpu)
    if kvm:
        tree.write("/dev/kvm", "", 0o660)
    assert virt.missing_virtualisation(tree.paths) == expected


def test_vmx_is_found_in_any_cpu_of_the_list(tree, machine):
    tree.write("/proc/cpuinfo", cpuinfo("fpu sse2", "fpu vmx sse2"))
    tree.write("/dev/kvm", "")
    assert virt.missing_virtualisation(tree.paths) is None


def test_a_flag_only_containing_vmx_does_not_count(tree, machine):
    tree.write("/proc/cpuinfo", cpuinfo("fpu vmx_ept sse2 nosvm"))
    tree.write("/dev/kvm", "")
    assert virt.missing_virtualisation(tree.paths) == NO_CPU


def test_aarch64_lists_no_vmx_and_only_kvm_counts(tree, machine):
    machine("aarch64")
    tree.write("/proc/cpuinfo", "processor\t: 0\nFeatures\t: fp asimd evtstrm\nflags\t: fp asimd\n")
    assert virt.missing_virtualisation(tree.paths) == NO_KVM
    tree.write("/dev/kvm", "")
    assert virt.missing_virtualisation(tree.paths) is None


def test_a_kvm_that_cannot_be_opened_says_why(tree, machine):
    tree.write("/proc/cpuinfo", cpuinfo("fpu vmx"))
    tree.file("/dev/kvm").mkdir(parents=True)
    assert virt.missing_virtualisation(tree.paths) == "/dev/kvm cannot be opened: Is a directory"


def test_paths_are_read_under_the_nodes_root(tree, machine):
    """The node's files are those under conf_root, never the test machine's own /dev/kvm."""
    tree.write("/proc/cpuinfo", cpuinfo("fpu vmx"))
    assert not tree.file("/dev/kvm").exists()
    assert virt.missing_virtualisation(tree.paths) == NO_KVM


@pytest.mark.parametrize(
    ("vm", "emulated"), [("qemu", True), ("kvm", False), ("none", False), ("", False), ("vmware", False)]
)
def test_an_emulated_machine_has_no_hardware_virtualisation_even_with_kvm(tree, machine, vm, emulated):
    # qemu without KVM emulates SVM, and /dev/kvm opens in its guest: that is no hardware for Kata.
    tree.write("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu svm hypervisor\n")
    tree.write("/dev/kvm", "")
    why = virt.missing_virtualisation(tree.paths, lambda: vm)
    if emulated:
        assert why is not None and "systemd-detect-virt: qemu" in why
    else:
        assert why is None
