#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sandbox_runtimes
short_description: Install sandbox runtimes (gVisor, Kata) and wire them into containerd and Kubernetes, in one call
version_added: 0.4.0
description:
  - Takes the sandbox runtimes a node should have as controls, in the families C(packages) (a
    runtime from the node's apt sources, such as Debian's runsc), C(artifacts) (release files from
    verified downloads, see M(nodeguard.hardening.verified_download)), C(managed_file) (files whose
    whole content is given, such as RuntimeClass manifests), C(containerd_runtime) (a runtime
    handler of containerd's CRI plugin) and C(cluster) (RuntimeClasses and node labels through
    kubectl where it and a kubeconfig are on the node).
  - The families run in that order, so a runtime installed by the run is there when its handler
    is checked. Every input is checked before the node is read; a failed step puts back what the
    run changed before it.
  - Runtime handlers go to a drop-in that the main configuration imports (the main file gains only
    the import); the drop-in carries a copy of the CRI plugin's other settings, because containerd
    replaces a whole plugin section from an imported file. Configuration versions 2 (containerd
    1.x) and 3 (containerd 2.x) are handled. After a change, C(containerd config dump) must show
    the handlers, or the files are put back. The module does not restart containerd; it returns
    RV(containerd_changed) for a handler to do it.
  - Controls with O(controls[].requires_kvm) are skipped, with the reason, on a node without usable
    hardware virtualisation (Kata Containers starts a VM per pod).
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Reads the published checksums and containerd's configuration, downloads and changes nothing.
  diff_mode:
    support: full
    description: Shows every file before and after, and the checksums of release files.
  platform:
    support: full
    platforms: posix
    description: Debian and Ubuntu nodes with containerd; Python 3.11 or newer on the node to read TOML.
options:
  controls:
    description:
      - The controls, as the sandbox role's catalog gives them (see M(nodeguard.hardening.system_baseline)
        for the common fields). The shapes of C(spec) are documented in
        C(plugins/module_utils/_sandbox/) (containerd.py, artifacts.py, cluster.py) and
        C(plugins/module_utils/_system/) (packages.py, managed_file.py).
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: The control's id.
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
        description: Whether the control is checked and applied.
        type: bool
        default: true
      reason:
        description: Why the control is switched off; required when O(controls[].enabled=false).
        type: str
      family:
        description: The kind of control.
        type: str
        required: true
        choices: [packages, artifacts, managed_file, containerd_runtime, cluster]
      spec:
        description: What the control wants (its family documents the shape).
        type: raw
      by_platform:
        description: Specs for particular platforms, keyed C(debian-13) or C(debian).
        type: dict
        default: {}
      requires_kvm:
        description: The control applies only where hardware virtualisation works (C(/dev/kvm) opens).
        type: bool
        default: false
  containerd:
    description: Where containerd's configuration is.
    type: dict
    default: {}
    suboptions:
      config:
        description: The main configuration file.
        type: path
        default: /etc/containerd/config.toml
      drop_in:
        description: The drop-in holding the handlers; its name should sort after every other import.
        type: path
        default: /etc/containerd/conf.d/90-nodeguard-sandbox.toml
      version:
        description:
          - The configuration version to write when there is no main file (2 for containerd 1.x, 3 for
            2.x). Not given, the installed containerd decides. With a main file, its version is used
            and must equal this when given.
        type: int
        choices: [2, 3]
      dump_check:
        description:
          - Check with C(containerd config dump) that containerd reads the handlers. Switch it off only
            for a configuration the installed containerd does not run (a file prepared for another
            version).
        type: bool
        default: true
seealso:
  - module: nodeguard.hardening.verified_download
"""

EXAMPLES = r"""
- name: gVisor from Debian's package, run by containerd's runc shim with the ptrace platform
  nodeguard.hardening.sandbox_runtimes:
    controls:
      - id: k8s.sandbox.gvisor_installed
        title: gVisor is installed
        family: packages
        spec: {present: [runsc]}
      - id: k8s.sandbox.gvisor_handler
        title: containerd has the runsc runtime handler
        family: containerd_runtime
        spec:
          handler: runsc
          runtime_type: io.containerd.runc.v2
          inherit_options: [SystemdCgroup]
          gvisor: {binary: /usr/bin/runsc, flags: {platform: ptrace}}
  register: sandbox

- name: Restart containerd when its configuration changed
  ansible.builtin.systemd_service:
    name: containerd
    state: restarted
  when: sandbox.containerd_changed
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["install runsc", "write /etc/containerd/conf.d/90-nodeguard-sandbox.toml"]
controls:
  description: One result per control, with the keys C(id), C(title), C(benchmarks), C(level),
    C(profile), C(status), C(reason), C(expected), C(actual), C(differences) and C(details).
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 4, "fixed": 2, "drift": 0, "skipped": 3, "error": 0}
containerd_changed:
  description: containerd's configuration was changed; containerd must restart to run the new handlers.
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls, _download
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import containerd, virt
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox.artifacts import Artifacts
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox.cluster import Cluster
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.managed_file import ManagedFile
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.packages import Packages

FAMILIES = ("packages", "artifacts", "managed_file", "containerd_runtime", "cluster")


def argument_spec() -> dict:
    return {
        "controls": _controls.control_argument_spec(
            {
                "family": {"type": "str", "required": True, "choices": list(FAMILIES)},
                "spec": {"type": "raw"},
                "by_platform": {"type": "dict", "default": {}},
                "requires_kvm": {"type": "bool", "default": False},
            }
        ),
        "containerd": {
            "type": "dict",
            "default": {},
            "options": {
                "config": {"type": "path", "default": "/etc/containerd/config.toml"},
                "drop_in": {"type": "path", "default": "/etc/containerd/conf.d/90-nodeguard-sandbox.toml"},
                "version": {"type": "int", "choices": [2, 3]},
                "dump_check": {"type": "bool", "default": True},
            },
        },
    }


def options(params: dict) -> containerd.Options:
    given = params["containerd"] or {}
    config = given.get("config") or "/etc/containerd/config.toml"
    drop_in = given.get("drop_in") or "/etc/containerd/conf.d/90-nodeguard-sandbox.toml"
    for what, path in (("containerd.config", config), ("containerd.drop_in", drop_in)):
        if not path.startswith("/") or not path.endswith(".toml"):
            raise _controls.ControlInputError(f"{what} must be an absolute path of a .toml file, got {path!r}")
    if config == drop_in:
        raise _controls.ControlInputError("containerd.drop_in must be another file than containerd.config")
    return containerd.Options(
        config=config,
        drop_in=drop_in,
        version=given.get("version"),
        dump_check=given.get("dump_check", True) is not False,
    )


def detect_vm(node: Node) -> str:
    """The kind of machine the node is (systemd-detect-virt --vm), empty where that is unknown."""
    binary = node.binary("systemd-detect-virt")
    if not binary:
        return ""
    _rc, out, _err = node.run([binary, "--vm"], check=False)
    return out.strip()


def without_virtualisation(node: Node, controls: list[dict]) -> dict[str, str]:
    """Switch off the controls that need hardware virtualisation where it is missing; their reasons."""
    wanting = [control for control in controls if control.get("requires_kvm") and control["enabled"]]
    why = virt.missing_virtualisation(node.paths, lambda: detect_vm(node)) if wanting else None
    if not why:
        return {}
    reasons = {}
    for control in wanting:
        control["enabled"] = False
        control["reason"] = reasons[control["id"]] = f"this node cannot start hardware-virtualised sandboxes: {why}"
    return reasons


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    node = Node(module)
    try:
        families = [Packages(), Artifacts(), ManagedFile(), containerd.ContainerdRuntimes(options(module.params))]
        families.append(Cluster())
        _controls.validate_controls(module.params["controls"])
        skipped = without_virtualisation(node, module.params["controls"])
        result = engine.run(module, node, families)
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        _download.discard_backups()
        module.fail_json(msg=str(exc), changed=False)
    # What verified downloads replaced was kept until the run could no longer be undone.
    _download.discard_backups()
    for entry in result["controls"]:
        if entry["id"] in skipped:
            entry["reason"] = skipped[entry["id"]]
    kinds = {control["id"]: control["family"] for control in module.params["controls"]}
    result["containerd_changed"] = any(
        kinds.get(entry["id"]) == "containerd_runtime" and entry["status"] == _controls.FIXED
        for entry in result["controls"]
    )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
