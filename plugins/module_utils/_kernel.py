# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Kernel modules and kernel parameters of a node in one module call.

Every input is validated before anything changes; then the modules are loaded (so the keys they
provide, such as C(net.bridge.*), exist) and the parameters set.
"""

from __future__ import annotations

import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils import _kmod, _sysctl
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths

SUPPORTED = ("debian", "ubuntu")


class _Part:
    """The module as one part sees it: its own parameters, everything else shared."""

    def __init__(self, module: t.Any, params: dict) -> None:
        self._module = module
        self.params = params

    def __getattr__(self, name: str) -> t.Any:
        return getattr(self._module, name)


def check_platform(host: NodePaths) -> str:
    fields = host.os_release()
    ident = fields.get("ID", "")
    if ident not in SUPPORTED:
        name = fields.get("PRETTY_NAME", ident or "an unknown system")
        raise c.ControlInputError(
            f"nodeguard.hardening supports Debian 12 and 13 and Ubuntu LTS; this node runs {name}"
        )
    return ident


def run(module: t.Any, host: NodePaths) -> dict[str, t.Any]:
    params = module.params
    check_platform(host)
    missing = params["missing"]
    modules = _Part(module, {"controls": params["modules"], "path": params["modules_path"], "missing": missing})
    sysctl = _Part(module, {"controls": params["sysctl"], "path": params["sysctl_path"], "missing": missing})
    # The parameters' input is checked before the first module is loaded.
    _sysctl.validate_path(params["sysctl_path"])
    _sysctl.plan(host, params["sysctl"], params["missing"])
    loaded = _kmod.run(modules, host)
    applied = _sysctl.run(sysctl, host)
    controls = loaded["controls"] + applied["controls"]
    return {
        "changed": loaded["changed"] or applied["changed"],
        "modules_path": loaded["path"],
        "sysctl_path": applied["path"],
        "loaded": loaded["loaded"],
        "controls": controls,
        "summary": c.summarise(controls),
        "diff": loaded["diff"] + applied["diff"],
    }
