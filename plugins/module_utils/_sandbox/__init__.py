# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sandbox runtimes for containerd: runtime handlers in a drop-in of containerd's configuration
(containerd), gVisor's flags (gvisor), verified release files (artifacts), hardware
virtualisation for Kata (virt) and the cluster's RuntimeClasses and node labels (cluster)."""
