# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CIS system hardening: one engine (engine.py), the node it works on (node.py), one module per
family of controls (kmod_off.py, mounts.py, ...)."""
