#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: seccomp_profiles
short_description: Install the seccomp profiles pods reference below the kubelet's seccomp root, validated first
version_added: 0.3.0
description:
  - Takes every seccomp profile a node should have for its pods and the controls of the seccomp
    role, and checks or applies them all in one module call.
  - Profiles go to a subfolder of the kubelet's seccomp root (O(root)/O(subfolder)); a pod
    references one as C(localhostProfile) C(SUBFOLDER/FILE). Files there that no wanted profile
    names are removed; the subfolder belongs to the module.
  - Every profile is validated against the OCI seccomp structure before anything is written
    (C(defaultAction), C(defaultErrnoRet), C(architectures) or containerd's C(archMap), C(flags),
    C(listenerPath), and C(syscalls) with C(names), C(action), C(errnoRet), C(args),
    C(includes) and C(excludes)); unknown keys, actions, operators, flags and architectures are
    refused with a suggestion, and every system call name is looked up in the node's libseccomp
    for the node's architecture (or an architecture the profile lists), so a misspelt name is
    refused instead of silently matching nothing. Nothing is written when any profile is refused.
  - Files are written atomically, mode 0644, owner root.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Validates every profile, inspects and predicts every change and the status C(drift); touches nothing.
  diff_mode:
    support: full
    description: Shows every file written or removed.
  platform:
    support: full
    platforms: posix
    description: Linux nodes with libseccomp (libseccomp2); Debian 12 and 13, Ubuntu LTS.
options:
  controls:
    description:
      - The controls to check or apply, each of one I(family) (C(seccomp_profile), C(seccomp_retired)).
      - A control of the C(seccomp_profile) family is a template, repeated for each profile of
        O(profiles) with the file's name (without C(.json)) as the last part of its id and
        C({file}) in its title replaced.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Stable identifier, lower-case dotted words such as C(k8s.seccomp.profile).
        type: str
        required: true
      title:
        description: What the control ensures, in words.
        type: str
        required: true
      benchmarks:
        description: Benchmark references, each with C(benchmark) and C(section).
        type: list
        elements: dict
        default: []
        suboptions:
          benchmark:
            description: Benchmark name.
            type: str
            required: true
          section:
            description: Section of the benchmark.
            type: str
            required: true
      level:
        description: Benchmark level.
        type: int
      profile:
        description: Benchmark profile.
        type: str
      enabled:
        description: Whether the control is checked; a switched-off control is reported as skipped with I(reason).
        type: bool
        default: true
      reason:
        description: Why the control is switched off.
        type: str
      family:
        description: The kind of control.
        type: str
        required: true
        choices: [seccomp_profile, seccomp_retired]
      spec:
        description: Not used by these families.
        type: raw
  profiles:
    description: The profiles the node should have.
    type: list
    elements: dict
    default: []
    suboptions:
      file:
        description: Its file name in the subfolder, such as C(strict.json).
        type: str
        required: true
      content:
        description: The profile's JSON text.
        type: str
        required: true
      source:
        description: Where the text comes from (a file, a template), named in messages.
        type: str
  root:
    description: The kubelet's seccomp root (C(<kubelet root dir>/seccomp)).
    type: path
    default: /var/lib/kubelet/seccomp
  subfolder:
    description: The subfolder of O(root) this module manages.
    type: str
    default: nodeguard
seealso:
  - module: nodeguard.hardening.apparmor_profiles
"""

EXAMPLES = r"""
- name: A profile that refuses unshare, referenced by pods as localhost/nodeguard/no-unshare.json
  nodeguard.hardening.seccomp_profiles:
    controls:
      - id: k8s.seccomp.profile
        title: The seccomp profile {file} is installed unchanged
        family: seccomp_profile
      - id: k8s.seccomp.retired
        title: Profiles no longer wanted are removed
        family: seccomp_retired
    profiles:
      - file: no-unshare.json
        content: >-
          {"defaultAction": "SCMP_ACT_ALLOW",
           "syscalls": [{"names": ["unshare"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["write the seccomp profile /var/lib/kubelet/seccomp/nodeguard/no-unshare.json"]
controls:
  description: One result per control (per profile for the C(seccomp_profile) family), with the keys
    C(id), C(title), C(benchmarks), C(level), C(profile), C(status), C(reason), C(expected),
    C(actual), C(differences) and C(details); a profile's C(details.pod) gives the pod's
    C(securityContext) field that uses it.
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 4, "fixed": 0, "drift": 0, "skipped": 0, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls
from ansible_collections.nodeguard.hardening.plugins.module_utils._seccomp import families
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node


def argument_spec() -> dict:
    return {
        "controls": _controls.control_argument_spec(
            {
                "family": {"type": "str", "required": True, "choices": list(families.NAMES)},
                "spec": {"type": "raw"},
            }
        ),
        "profiles": {
            "type": "list",
            "elements": "dict",
            "default": [],
            "options": {
                "file": {"type": "str", "required": True},
                "content": {"type": "str", "required": True},
                "source": {"type": "str"},
            },
        },
        "root": {"type": "path", "default": "/var/lib/kubelet/seccomp"},
        "subfolder": {"type": "str", "default": "nodeguard"},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        root = params["root"].rstrip("/")
        if not root.startswith("/"):
            raise _controls.ControlInputError(f"root {params['root']!r} must be an absolute path")
        if not families.SUBFOLDER_RE.match(params["subfolder"]):
            raise _controls.ControlInputError(
                f"subfolder {params['subfolder']!r} must be one plain folder name: every file in it is managed"
            )
        profiles = families.check_profiles(params["profiles"])
        options = families.Options(profiles=profiles, root=root, subfolder=params["subfolder"])
        module.params["controls"] = families.expand(params["controls"], profiles)
        result = engine.run(module, Node(module), families.build(options))
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
