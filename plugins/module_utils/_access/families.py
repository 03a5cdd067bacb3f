# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every family of access controls, in the order the engine inspects and applies them.

sshd comes first: its lockout guard refuses a configuration that would shut Ansible out before
any other family has changed anything, and its node-side rollback is armed before the reload.
Package installs (sudo) come next, so that the files after them configure what is there. The
managed files (sudoers drop-in, profile.d) come before the modes and owners of files, then the
shadow tools' defaults and the accounts. The sudoers rules only read. PAM follows the packages
that bring its modules (libpam-pwquality), and su's pam_wheel line comes after it. Purges come
last, as in the system families: a purge cannot be undone.
"""

from __future__ import annotations

from ansible_collections.nodeguard.hardening.plugins.module_utils._access.accounts import Accounts
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.login_defs import LoginDefs
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.pam.family import Pam
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.family import Sshd
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd.rollback import DEFAULT_TIMEOUT
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.su import SuWheel
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sudoers import Sudoers
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Family
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.file_attributes import FileAttributes
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.managed_file import ManagedFile
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.packages import Packages, PackagesPurge


def build(connection: dict | None = None, rollback_timeout: int = DEFAULT_TIMEOUT) -> list[Family]:
    """The families for one run: sshd is told what Ansible knows of its connection and how long
    the node waits for the controller to reconnect before it rolls an sshd change back."""
    return [
        Sshd(connection=connection, rollback_timeout=rollback_timeout),
        Packages(),
        ManagedFile(),
        FileAttributes(),
        LoginDefs(),
        Accounts(),
        Sudoers(),
        Pam(),
        SuWheel(),
        PackagesPurge(),
    ]


NAMES = list(dict.fromkeys(family.name for family in build()))
