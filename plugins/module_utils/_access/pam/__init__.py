# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""PAM (CIS 5.3): the stacks Debian's pam-auth-update writes (stack), the profiles it writes them
from (profiles), the settings files of pam_faillock and pam_pwquality (settings), and the family
judging and changing all of it (family)."""
