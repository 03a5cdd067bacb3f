# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the node's libseccomp knows: its architecture and the system call names of each
architecture, read through ctypes from libseccomp.so.2 (the library runc and containerd use to
turn a profile into a filter), so a name is judged as the runtime will judge it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c

# The OCI names of the architectures and libseccomp's own names for them.
OCI_ARCHES = {
    "SCMP_ARCH_X86": "x86",
    "SCMP_ARCH_X86_64": "x86_64",
    "SCMP_ARCH_X32": "x32",
    "SCMP_ARCH_ARM": "arm",
    "SCMP_ARCH_AARCH64": "aarch64",
    "SCMP_ARCH_LOONGARCH64": "loongarch64",
    "SCMP_ARCH_M68K": "m68k",
    "SCMP_ARCH_MIPS": "mips",
    "SCMP_ARCH_MIPS64": "mips64",
    "SCMP_ARCH_MIPS64N32": "mips64n32",
    "SCMP_ARCH_MIPSEL": "mipsel",
    "SCMP_ARCH_MIPSEL64": "mipsel64",
    "SCMP_ARCH_MIPSEL64N32": "mipsel64n32",
    "SCMP_ARCH_PPC": "ppc",
    "SCMP_ARCH_PPC64": "ppc64",
    "SCMP_ARCH_PPC64LE": "ppc64le",
    "SCMP_ARCH_S390": "s390",
    "SCMP_ARCH_S390X": "s390x",
    "SCMP_ARCH_PARISC": "parisc",
    "SCMP_ARCH_PARISC64": "parisc64",
    "SCMP_ARCH_RISCV64": "riscv64",
    "SCMP_ARCH_SH": "sh",
    "SCMP_ARCH_SHEB": "sheb",
}
# libseccomp's answer for a name it does not know (__NR_SCMP_ERROR); other negative numbers are
# the pseudo system calls of multiplexing architectures (socketcall on x86), which are known.
NR_SCMP_ERROR = -1
# x32's system calls are numbered from this bit on.
X32_BIT = 0x40000000
HIGHEST_NUMBER = 1100


class Syscalls:
    """The interface the validator uses."""

    native: str = ""

    def arch_supported(self, oci_arch: str) -> bool:
        raise NotImplementedError

    def known(self, name: str, oci_arch: str) -> bool:
        raise NotImplementedError

    def names(self, oci_arch: str) -> list[str]:
        raise NotImplementedError


class Table(Syscalls):
    """Fixed tables: C(names) maps an OCI architecture to its system call names."""

    def __init__(self, native: str, names: dict[str, t.Iterable[str]]) -> None:
        self.native = native
        self._names = {arch: set(values) for arch, values in names.items()}

    def arch_supported(self, oci_arch: str) -> bool:
        return oci_arch in self._names

    def known(self, name: str, oci_arch: str) -> bool:
        return name in self._names.get(oci_arch, set())

    def names(self, oci_arch: str) -> list[str]:
        return sorted(self._names.get(oci_arch, set()))


class Libseccomp(Syscalls):
    def __init__(self, library: t.Any) -> None:
        self.lib = library
        library.seccomp_arch_native.restype = ctypes.c_uint32
        library.seccomp_arch_native.argtypes = []
        library.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        library.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        library.seccomp_syscall_resolve_name_arch.restype = ctypes.c_int
        library.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        library.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
        library.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
        self.libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        self.libc.free.argtypes = [ctypes.c_void_p]
        self.libc.free.restype = None
        native = library.seccomp_arch_native()
        self.native = next((oci for oci in OCI_ARCHES if self._token(oci) == native), "")
        self._names: dict[str, list[str]] = {}

    def _token(self, oci_arch: str) -> int:
        name = OCI_ARCHES.get(oci_arch)
        return self.lib.seccomp_arch_resolve_name(name.encode()) if name else 0

    def arch_supported(self, oci_arch: str) -> bool:
        return self._token(oci_arch) != 0

    def known(self, name: str, oci_arch: str) -> bool:
        token = self._token(oci_arch)
        if not token or not name:
            return False
        return self.lib.seccomp_syscall_resolve_name_arch(token, name.encode()) != NR_SCMP_ERROR

    def names(self, oci_arch: str) -> list[str]:
        if oci_arch not in self._names:
            token = self._token(oci_arch)
            base = X32_BIT if oci_arch == "SCMP_ARCH_X32" else 0
            found = set()
            for number in range(base, base + HIGHEST_NUMBER) if token else ():
                pointer = self.lib.seccomp_syscall_resolve_num_arch(token, number)
                if pointer:
                    found.add(ctypes.string_at(pointer).decode())
                    self.libc.free(pointer)
            self._names[oci_arch] = sorted(found)
        return self._names[oci_arch]


def load() -> Syscalls:
    """The node's libseccomp; c.ControlInputError saying what to install when it is missing."""
    candidates = [ctypes.util.find_library("seccomp"), "libseccomp.so.2"]
    for candidate in candidates:
        if not candidate:
            continue
        try:
            return Libseccomp(ctypes.CDLL(candidate))
        except (OSError, AttributeError):
            continue
    raise c.ControlInputError(
        "libseccomp (libseccomp.so.2) is not installed on this node: install the libseccomp2 package; "
        "system call names cannot be checked without it"
    )
