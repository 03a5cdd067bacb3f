# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The C(sshd) family of controls (CIS Debian 12 section 5.1) and what it stands on.

- keywords.py: the keywords sshd knows, their canonical case and how their values compare.
- effective.py: C(sshd -T), the configuration sshd actually uses, read and parsed.
- origin.py: which file and line set each keyword, in the order sshd reads its files.
- candidate.py: a private copy of the configuration tree with the planned files in their place,
  so that C(sshd -t) and C(sshd -T) judge exactly what will be installed.
- session.py: the SSH connection the module itself runs under, read from /proc.
- guard.py: the lockout checks run on the candidate before anything changes.
- rollback.py: the node's own way back when the controller cannot reconnect, and its confirmation.
- family.py: the family itself (validate, inspect, the one action that installs and reloads).
"""
