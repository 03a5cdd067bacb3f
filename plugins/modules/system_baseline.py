#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: system_baseline
short_description: Check or apply every CIS system control of a node in one call
version_added: 0.2.0
description:
  - Takes the whole set of system controls (kernel modules switched off, mount options, core
    dumps, packages and services, AppArmor, logging, auditd, file permissions and more), each of
    one I(family), and checks or applies them all in one module call.
  - Every control's spec is validated before anything changes; a bad one fails the task and
    changes nothing.
  - Changes that serve several controls (one managed file) are made once. When a change fails,
    the changes already made in this run are undone in reverse order and the task fails naming
    the change that failed.
  - After the changes every control is inspected again; C(fixed) means nothing was left to change.
  - Reports one result per control, C(pass), C(fixed), C(drift) (check mode), C(skipped) with a
    reason, or C(error) with a reason; C(fixed), C(drift) and C(error) list what differs.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Inspects and predicts every change and the per-control status C(drift); touches nothing.
  diff_mode:
    support: full
    description: Shows every managed file and every state change before and after.
  platform:
    support: full
    platforms: posix
    description: Debian 12 and 13; Ubuntu LTS where the same files and tools exist.
options:
  controls:
    description: The controls to check or apply.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Stable identifier, lower-case dotted words such as C(cis.kmod.cramfs).
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
      family:
        description: The kind of control, which decides how O(controls[].spec) is read.
        type: str
        required: true
        choices:
          - packages
          - kmod_off
          - mounts
          - managed_file
          - auditd
          - units
          - mta
          - timesync
          - apparmor
          - bootloader
          - file_attributes
          - walk
          - aide
      spec:
        description: What the control wants, in the shape its family takes (each family's module under
          C(plugins/module_utils/_system/) documents its shape).
        type: raw
      by_platform:
        description:
          - Specs for particular platforms, keyed C(debian-13) or C(debian) (from C(/etc/os-release));
            the most specific key that matches replaces O(controls[].spec).
        type: dict
        default: {}
seealso:
  - module: nodeguard.hardening.sysctl_baseline
"""

EXAMPLES = r"""
- name: Unused filesystems can never be mounted
  nodeguard.hardening.system_baseline:
    controls:
      - id: cis.kmod.cramfs
        title: cramfs cannot be loaded
        family: kmod_off
        spec: {modules: [cramfs]}
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/modprobe.d/nodeguard-hardening.conf", "unload kernel module cramfs"]
controls:
  description: One result per control, in the order given, with the keys C(id), C(title),
    C(benchmarks), C(level), C(profile), C(status), C(reason), C(expected), C(actual),
    C(differences) and C(details) (see M(nodeguard.hardening.sysctl_baseline)).
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 30, "fixed": 2, "drift": 0, "skipped": 3, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine, families
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node


def argument_spec() -> dict:
    return {
        "controls": _controls.control_argument_spec(
            {
                "family": {"type": "str", "required": True, "choices": families.NAMES},
                "spec": {"type": "raw"},
                "by_platform": {"type": "dict", "default": {}},
            }
        ),
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = engine.run(module, Node(module), families.ALL)
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
