#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kernel_modules
short_description: Load kernel modules now and at every boot, grouped in controls
version_added: 0.1.0
description:
  - Loads each module of the enabled controls with C(modprobe) and lists them all in one file
    that systemd-modules-load reads at boot (before systemd-sysctl, so the keys such modules
    provide are set at boot too).
  - Reports one result per control, C(pass), C(fixed), C(drift) (check mode), C(skipped) with a
    reason, or C(error).
  - Every module name is checked, and looked up with C(modprobe -n), before anything changes.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Predicts which modules would be loaded and whether the file would change.
  diff_mode:
    support: full
    description: Shows the file before and after, and the modules that would be loaded.
  platform:
    support: full
    platforms: posix
    description: Debian 12 and 13, Ubuntu LTS; any Linux with systemd should work.
options:
  controls:
    description: The controls to check or apply.
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
        description: Why the control is switched off; required when O(controls[].enabled=false).
        type: str
      load:
        description: Modules that must be loaded.
        type: list
        elements: str
        required: true
  path:
    description: The file, directly in C(/etc/modules-load.d) (read at every boot).
    type: path
    default: /etc/modules-load.d/nodeguard-hardening.conf
  missing:
    description:
      - What to do about a module this kernel does not have.
      - V(skip) reports the control as C(skipped) when it has no module left; V(fail) fails the
        task before anything changes.
    type: str
    choices: [skip, fail]
    default: skip
seealso:
  - module: nodeguard.hardening.sysctl_baseline
"""

EXAMPLES = r"""
- name: Load what container networking and storage need
  nodeguard.hardening.kernel_modules:
    controls:
      - id: k8s.kernel_modules
        title: Modules container networking and storage need
        load: [br_netfilter, overlay]
"""

RETURN = r"""
path:
  description: The modules-load.d file.
  returned: always
  type: str
  sample: /etc/modules-load.d/nodeguard-hardening.conf
loaded:
  description: Modules loaded by this run (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [br_netfilter]
controls:
  description: One result per control, in the order given, with the keys C(id), C(title),
    C(benchmarks), C(level), C(profile), C(status), C(reason), C(expected), C(actual),
    C(differences) and C(details) (see M(nodeguard.hardening.sysctl_baseline)). A module missing
    from the file has C(where) set to the file, one not loaded C(where=live).
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 0, "fixed": 1, "drift": 0, "skipped": 0, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls, _kmod
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths


def argument_spec() -> dict:
    return {
        "controls": _controls.control_argument_spec(
            {
                "load": {"type": "list", "elements": "str", "required": True},
            }
        ),
        "path": {"type": "path", "default": _kmod.DEFAULT_PATH},
        "missing": {"type": "str", "choices": ["skip", "fail"], "default": "skip"},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = _kmod.run(module, NodePaths())
    except (_controls.ControlInputError, _kmod.KmodApplyError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
