# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CIS access control (sections 5 and 7.2 of the Debian benchmark): the SSH server (sshd/), local
accounts and their files, login.defs; built so that no change locks out the account Ansible
connects with."""
