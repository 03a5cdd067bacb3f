# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ufw for Kubernetes nodes: rules as values (rules), ufw's state from its own files (state), the
steps from that state to a wanted policy (plan), whether a policy lets the controller back in
(guard), the ufw family's controls (families), ufw's commands run with the node's undo timer armed
(apply, rollback), the listening ports without a rule (listening) and the iptables backend ufw
shares with the data plane (backend)."""
