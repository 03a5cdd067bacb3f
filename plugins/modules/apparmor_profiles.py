#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: apparmor_profiles
short_description: Install, load and keep loaded the AppArmor profiles pods use, in one call
version_added: 0.3.0
description:
  - Takes every AppArmor profile a node should have for its pods, with its mode, and the controls
    of the apparmor role, and checks or applies them all in one module call.
  - Each profile is compiled by C(apparmor_parser) before anything is installed or loaded; a
    profile the parser refuses fails the task with the parser's message (file and line) and the
    node keeps its files and loaded profiles as they were.
  - A profile's file goes to O(profile_dir), written atomically, and is loaded with replace in
    enforce or complain mode. The module compares the file's text, the loaded profile's mode and
    the SHA-1 of the policy the kernel loaded (C(raw_sha1) in securityfs) with the policy the
    wanted text compiles to, so a profile unloaded, switched to another mode, loaded from another
    text or edited by hand is reported and restored.
  - Files in O(profile_dir) that no wanted profile names are removed and their profiles unloaded;
    the folder belongs to the module.
  - A systemd unit (O(unit)) loads the wanted profiles at boot, before C(sysinit.target) and the
    container runtimes, so a pod scheduled right after a reboot finds its profile.
  - Where AppArmor is off in the kernel or C(apparmor_parser) is missing, every control reports
    why (C(error), or C(drift) in check mode) and nothing is changed.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Compiles every profile, inspects and predicts every change and the status C(drift); touches nothing.
  diff_mode:
    support: full
    description: Shows every file written or removed, and each profile's loaded mode before and after.
  platform:
    support: full
    platforms: posix
    description: Debian 12 and 13, Ubuntu LTS, with AppArmor in the kernel and systemd.
options:
  controls:
    description:
      - The controls to check or apply, each of one I(family) (C(apparmor_profile),
        C(apparmor_retired), C(apparmor_boot)).
      - A control of the C(apparmor_profile) family is a template, repeated for each profile of
        O(profiles) with the profile's name as the last part of its id and C({name}) and C({mode})
        in its title replaced.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Stable identifier, lower-case dotted words such as C(k8s.apparmor.profile).
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
        choices: [apparmor_profile, apparmor_retired, apparmor_boot]
      spec:
        description: Not used by these families.
        type: raw
  profiles:
    description: The profiles the node should have.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The profile's name as its text declares it (C(profile NAME)); pods reference it by this name.
        type: str
        required: true
      content:
        description: The profile's text.
        type: str
        required: true
      mode:
        description: The mode it is loaded in.
        type: str
        choices: [enforce, complain]
        default: enforce
      file:
        description: Its file name in O(profile_dir); by default the name with slashes as dots.
        type: str
      source:
        description: Where the text comes from (a template, a file), named in messages.
        type: str
  profile_dir:
    description: The folder of the profiles this module manages; every file in it is managed.
    type: path
    default: /etc/nodeguard/apparmor
  unit:
    description: The systemd unit that loads the profiles at boot.
    type: str
    default: nodeguard-apparmor.service
  runtime_units:
    description: Units the profiles are loaded before at boot.
    type: list
    elements: str
    default: [containerd.service, crio.service, docker.service, kubelet.service]
seealso:
  - module: nodeguard.hardening.seccomp_profiles
"""

EXAMPLES = r"""
- name: A pod profile that allows writes only below /tmp, in enforce mode
  nodeguard.hardening.apparmor_profiles:
    controls:
      - id: k8s.apparmor.profile
        title: AppArmor profile {name} installed and loaded in {mode} mode
        family: apparmor_profile
      - id: k8s.apparmor.retired
        title: Profiles no longer wanted are removed and unloaded
        family: apparmor_retired
      - id: k8s.apparmor.boot
        title: The profiles load at boot before the container runtime
        family: apparmor_boot
    profiles:
      - name: tmp-only
        content: |
          #include <tunables/global>
          profile tmp-only flags=(attach_disconnected,mediate_deleted) {
            #include <abstractions/base>
            /** rmix,
            /tmp/** rwk,
            network,
            capability,
          }
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["install and load the AppArmor profile tmp-only (enforce) from /etc/nodeguard/apparmor/tmp-only"]
controls:
  description: One result per control (per profile for the C(apparmor_profile) family), with the keys
    C(id), C(title), C(benchmarks), C(level), C(profile), C(status), C(reason), C(expected),
    C(actual), C(differences) and C(details). A profile's C(actual) says whether its file is
    C(absent), C(unchanged) or C(edited), whether it is loaded and in which mode; its
    C(details.pod) gives the pod's C(securityContext) field and annotation that use it.
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 5, "fixed": 0, "drift": 0, "skipped": 0, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls
from ansible_collections.nodeguard.hardening.plugins.module_utils._apparmor import families
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
                "name": {"type": "str", "required": True},
                "content": {"type": "str", "required": True},
                "mode": {"type": "str", "choices": list(families.MODES), "default": "enforce"},
                "file": {"type": "str"},
                "source": {"type": "str"},
            },
        },
        "profile_dir": {"type": "path", "default": "/etc/nodeguard/apparmor"},
        "unit": {"type": "str", "default": "nodeguard-apparmor.service"},
        "runtime_units": {
            "type": "list",
            "elements": "str",
            "default": ["containerd.service", "crio.service", "docker.service", "kubelet.service"],
        },
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    try:
        folder = params["profile_dir"].rstrip("/")
        if not folder.startswith("/") or folder in ("/etc", "/etc/apparmor.d", "/etc/nodeguard"):
            raise _controls.ControlInputError(
                f"profile_dir {params['profile_dir']!r} must be a folder of its own: every file in it is managed"
            )
        if not params["unit"].endswith(".service") or "/" in params["unit"]:
            raise _controls.ControlInputError(
                f"unit {params['unit']!r} must be a systemd service name such as x.service"
            )
        profiles = families.check_profiles(params["profiles"])
        options = families.Options(
            profiles=profiles,
            profile_dir=folder,
            unit=params["unit"],
            runtime_units=params["runtime_units"],
        )
        module.params["controls"] = families.expand(params["controls"], profiles)
        node = Node(module)
        result = engine.run(module, node, families.build(node, options))
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
