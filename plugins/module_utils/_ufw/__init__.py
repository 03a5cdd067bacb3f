# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ufw for Kubernetes nodes: rules as values (rules), ufw's state from its own files (state), the
steps from that state to a wanted policy (plan), and whether a policy lets the controller back in
(guard)."""
