# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every family of system controls, in the order the engine inspects and applies them.

Package installs come first, so what the others configure is there when they look; purges come
last, because a purge cannot be undone (both are the family C(packages)). Mounts come before
auditd and the walk, which read mount options. auditd comes before the units that start it (its
config is re-read only by a running auditd); time and AppArmor after the units they depend on.
File modes come after the families that write files; the walk only reads, then changes modes.
The MTA comes after the units (it restarts a running MTA). AIDE comes last of all: its database
must record the node as this run leaves it, purged packages included.
"""

from __future__ import annotations

from ansible_collections.nodeguard.hardening.plugins.module_utils._system.aide import Aide
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.apparmor import Apparmor
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.auditd import Auditd
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.bootloader import Bootloader
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.file_attributes import FileAttributes
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.kmod_off import KmodOff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.managed_file import ManagedFile
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.mounts import Mounts
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.mta import Mta
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.packages import Packages, PackagesPurge
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.timesync import Timesync
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.units import Units
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.walk import Walk

ALL = [
    Packages(),
    KmodOff(),
    Mounts(),
    ManagedFile(),
    Auditd(),
    Units(),
    Mta(),
    Timesync(),
    Apparmor(),
    Bootloader(),
    FileAttributes(),
    Walk(),
    PackagesPurge(),
    Aide(),
]
NAMES = list(dict.fromkeys(family.name for family in ALL))
