# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every family of kubelet controls, in the order the engine inspects and applies them.

Modes and owners of the kubelet's files come first, then the settings (one write of the
configuration and one restart), then kube-proxy's configuration. Whether kube-bench judges the
files the kubelet reads is looked at last, on the node as the changes left it.
"""

from __future__ import annotations

from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.config import KubeletConfig, Options
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.files import KubeletFiles, KubeletPaths
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.proxy import KubeProxy, ProxyOptions
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Family


def build(options: Options | None = None, proxy: ProxyOptions | None = None) -> list[Family]:
    options = options or Options()
    return [KubeletFiles(options), KubeletConfig(options), KubeProxy(options, proxy), KubeletPaths(options)]


NAMES = [family.name for family in build()]
