#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sysctl_baseline
short_description: Apply a whole set of kernel parameters, grouped in controls, in one call
version_added: 0.1.0
description:
  - Sets the live value of every kernel parameter of the enabled controls and keeps them all in
    one drop-in file that systemd-sysctl reads at boot.
  - Reports one result per control, C(pass), C(fixed), C(drift) (check mode), C(skipped) with a
    reason, or C(error) with a reason.
  - Every value is checked before anything changes. A value of the wrong form (a word where the
    kernel takes an integer, a boolean, two lines) fails the task and changes nothing. A value the
    kernel refuses when it is written (out of range) fails the task after every value already
    written has been put back, and the file is left as it was.
  - The file is replaced atomically and only holds the keys of enabled controls; keys of controls
    that are switched off are left at whatever value they have.
  - The default file name starts with C(zz-) so that systemd-sysctl reads it after every numbered
    file (such as C(99-sysctl.conf)) and after names such as C(k8s.conf); a file read later that
    sets one of its keys to another value makes that control an C(error), since the value would
    not survive a reboot.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Predicts every change and the per-control status C(drift); touches nothing.
  diff_mode:
    support: full
    description: Shows the drop-in file and the live values before and after.
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
        description: Why the control is switched off; required when O(controls[].enabled=false).
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
  path:
    description:
      - The drop-in file, directly in C(/etc/sysctl.d) (read at every boot; C(/run) is emptied at boot).
    type: path
    default: /etc/sysctl.d/zz-nodeguard-hardening.conf
  missing:
    description:
      - What to do about a key this kernel does not have.
      - V(skip) reports the control as C(skipped) (when none of its keys exist); V(fail) fails
        the task before anything changes.
    type: str
    choices: [skip, fail]
    default: skip
seealso:
  - module: nodeguard.hardening.kernel_modules
notes:
  - Keys are compared with the kernel's live value after folding white space, so
    C(32768 60999) matches the kernel's tab-separated output.
"""

EXAMPLES = r"""
- name: Apply the kubelet's protected kernel defaults
  nodeguard.hardening.sysctl_baseline:
    controls:
      - id: k8s.sysctl.kubelet_protect_kernel_defaults
        title: Kernel parameters the kubelet checks with protectKernelDefaults
        sysctl:
          vm.overcommit_memory: 1
          vm.panic_on_oom: 0
          kernel.panic: 10
          kernel.panic_on_oops: 1

- name: Audit only, and fail if this kernel lacks a key
  nodeguard.hardening.sysctl_baseline:
    controls: "{{ my_controls }}"
    missing: fail
  check_mode: true
  register: sysctl_audit
"""

RETURN = r"""
path:
  description: The drop-in file.
  returned: always
  type: str
  sample: /etc/sysctl.d/zz-nodeguard-hardening.conf
controls:
  description: One result per control, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The control's id.
      type: str
      sample: k8s.sysctl.ip_forward
    title:
      description: The control's title.
      type: str
    benchmarks:
      description: Benchmark items of the control.
      type: list
      elements: dict
    level:
      description: Benchmark level.
      type: int
    profile:
      description: Profile.
      type: str
    status:
      description: One of C(pass), C(fixed), C(drift), C(skipped), C(error).
      type: str
      sample: fixed
    reason:
      description:
        - Why the control was skipped, or what differs (C(fixed), C(drift)) or went wrong (C(error)).
        - Never null for C(fixed), C(drift) and C(error); by default the differences in words.
      type: str
    expected:
      description: Key to the value the control wants.
      type: dict
      sample: {"net.ipv4.ip_forward": "1"}
    actual:
      description: Key to the live value found before any change; null for a key the kernel lacks.
      type: dict
      sample: {"net.ipv4.ip_forward": "0"}
    differences:
      description:
        - Each thing that is not as the control wants it, as found before any change.
        - C(item) names it (a key, a module, a file), C(where) says where it was found (C(live),
          a file with the line, C(mode), C(owner)), C(expected) and C(actual) (null when absent).
      type: list
      elements: dict
      sample: [{"item": "net.ipv4.tcp_syncookies", "where": "/etc/sysctl.d/zz-nodeguard-hardening.conf line 12",
                "expected": "1", "actual": "0"}]
    details:
      description: Extra facts, such as C(missing_keys), C(live_matches) and C(persisted).
      type: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 3, "fixed": 1, "drift": 0, "skipped": 1, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls, _sysctl
from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths


def argument_spec() -> dict:
    return {
        "controls": _controls.control_argument_spec(
            {
                "sysctl": {"type": "dict", "required": True},
                "requires_modules": {"type": "list", "elements": "str", "default": []},
            }
        ),
        "path": {"type": "path", "default": _sysctl.DEFAULT_PATH},
        "missing": {"type": "str", "choices": ["skip", "fail"], "default": "skip"},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        result = _sysctl.run(module, NodePaths())
    except (_controls.ControlInputError, _sysctl.SysctlApplyError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
