#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_baseline
short_description: Kernel modules and kernel parameters of a node, grouped in controls, in one call
version_added: 0.2.0
description:
  - Does what M(nodeguard.hardening.kernel_modules) and M(nodeguard.hardening.sysctl_baseline)
    do, in one module call, the modules first (so the keys they provide exist), then the parameters.
  - Every input of both parts is validated before anything changes.
  - Fails before anything changes on a node that is not Debian or Ubuntu.
  - Reports one result per control, modules first.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Predicts every change and the per-control status C(drift); touches nothing.
  diff_mode:
    support: full
    description: Shows both files, the modules that would be loaded and the live values before and after.
  platform:
    support: full
    platforms: posix
    description: Debian 12 and 13, Ubuntu LTS.
options:
  modules:
    description: The kernel module controls (see M(nodeguard.hardening.kernel_modules)).
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Stable identifier, lower-case dotted words such as C(k8s.kernel_modules).
        type: str
        required: true
      title:
        description: What the control ensures, in words.
        type: str
        required: true
      benchmarks:
        description: Benchmark items this control implements.
        type: list
        elements: dict
        default: []
        suboptions:
          benchmark:
            description: Benchmark and version.
            type: str
            required: true
          section:
            description: The item's number in that benchmark.
            type: str
            required: true
      level:
        description: Benchmark level (1 or 2).
        type: int
      profile:
        description: Profile the control belongs to.
        type: str
      enabled:
        description: Whether to check and apply this control.
        type: bool
        default: true
      reason:
        description: Why the control is switched off; required when O(modules[].enabled=false).
        type: str
      load:
        description: Modules that must be loaded.
        type: list
        elements: str
        required: true
  sysctl:
    description: The kernel parameter controls (see M(nodeguard.hardening.sysctl_baseline)).
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Stable identifier, lower-case dotted words such as C(cis.sysctl.icmp_redirects).
        type: str
        required: true
      title:
        description: What the control ensures, in words.
        type: str
        required: true
      benchmarks:
        description: Benchmark items this control implements.
        type: list
        elements: dict
        default: []
        suboptions:
          benchmark:
            description: Benchmark and version, such as C(CIS Debian Linux 12 v1.1.0).
            type: str
            required: true
          section:
            description: The item's number in that benchmark.
            type: str
            required: true
      level:
        description: Benchmark level (1 or 2).
        type: int
      profile:
        description: Profile the control belongs to.
        type: str
      enabled:
        description: Whether to check and apply this control.
        type: bool
        default: true
      reason:
        description: Why the control is switched off; required when O(sysctl[].enabled=false).
        type: str
      sysctl:
        description:
          - Kernel parameters of this control, key to value. Keys in dotted or slash form.
          - Values are integers or strings; several integers are separated by spaces.
        type: dict
        required: true
      requires_modules:
        description:
          - Kernel modules that provide this control's keys. While one is not loaded, the keys do
            not exist; check mode reports C(drift) rather than C(skipped).
        type: list
        elements: str
        default: []
  modules_path:
    description: The file listing modules to load at boot, directly in C(/etc/modules-load.d).
    type: path
    default: /etc/modules-load.d/nodeguard-hardening.conf
  sysctl_path:
    description: The drop-in file for kernel parameters, directly in C(/etc/sysctl.d).
    type: path
    default: /etc/sysctl.d/zz-nodeguard-hardening.conf
  missing:
    description:
      - What to do about a module or key this kernel does not have.
      - V(skip) reports the control as C(skipped); V(fail) fails the task before anything changes.
    type: str
    choices: [skip, fail]
    default: skip
seealso:
  - module: nodeguard.hardening.kernel_modules
  - module: nodeguard.hardening.sysctl_baseline
"""

EXAMPLES = r"""
- name: Load what pod networking needs and set the bridge parameters it provides
  nodeguard.hardening.kernel_baseline:
    modules:
      - id: k8s.kernel_modules
        title: Modules container networking and storage need
        load: [br_netfilter, overlay]
    sysctl:
      - id: k8s.sysctl.bridge_netfilter
        title: Bridged pod traffic passes through iptables
        requires_modules: [br_netfilter]
        sysctl:
          net.bridge.bridge-nf-call-iptables: 1
"""

RETURN = r"""
modules_path:
  description: The modules-load.d file.
  returned: always
  type: str
  sample: /etc/modules-load.d/nodeguard-hardening.conf
sysctl_path:
  description: The sysctl.d drop-in file.
  returned: always
  type: str
  sample: /etc/sysctl.d/zz-nodeguard-hardening.conf
loaded:
  description: Modules loaded by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [br_netfilter]
controls:
  description: One result per control, the module controls first, with the keys C(id), C(title),
    C(benchmarks), C(level), C(profile), C(status), C(reason), C(expected), C(actual),
    C(differences) and C(details) (see M(nodeguard.hardening.sysctl_baseline)).
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 16, "fixed": 1, "drift": 0, "skipped": 2, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls, _kernel, _kmod, _sysctl
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths


def argument_spec() -> dict:
    modules = _controls.control_argument_spec({"load": {"type": "list", "elements": "str", "required": True}})
    sysctl = _controls.control_argument_spec(
        {
            "sysctl": {"type": "dict", "required": True},
            "requires_modules": {"type": "list", "elements": "str", "default": []},
        }
    )
    return {
        "modules": modules,
        "sysctl": sysctl,
        "modules_path": {"type": "path", "default": _kmod.DEFAULT_PATH},
        "sysctl_path": {"type": "path", "default": _sysctl.DEFAULT_PATH},
        "missing": {"type": "str", "choices": ["skip", "fail"], "default": "skip"},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = _kernel.run(module, NodePaths())
    except (_controls.ControlInputError, _kmod.KmodApplyError, _sysctl.SysctlApplyError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
