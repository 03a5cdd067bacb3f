#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: controlplane_baseline
short_description: Check or apply the CIS Kubernetes control plane controls of a node in one call, judged as kube-bench
version_added: 0.3.0
description:
  - Takes the whole set of control plane controls (flags of the static pods of kube-apiserver,
    kube-controller-manager, kube-scheduler and etcd; the audit policy, authentication and
    encryption configuration files; modes and owners of manifests, kubeconfigs, PKI, CNI and etcd
    data; the manifests directory itself), each of one I(family), and checks or applies them in
    one module call. Nodes without the manifests report every control as skipped.
  - All the flags of one component go into one edit of its manifest, made by lines so that every
    other line, comments and order included, stays as it was; the volumes and mounts a new file
    needs are added with it. Before anything is written, each value is checked as the component
    checks it and each file a new value names must exist on the node (or be written by the same
    run) and be mounted into the Pod; otherwise the task fails and nothing is changed.
  - The kubelet starts every file of the manifests directory as a pod, so nothing is left there;
    the previous manifest is kept in O(backup_dir) (the newest O(backup_keep) copies), the new one
    is written to a hidden temporary file and renamed over it.
  - When the component was running, the change counts only once it runs with the new command line
    and its liveness probe answers within O(health_timeout) seconds; otherwise the previous
    manifest is put back, every other change of the run is undone, and the task fails saying so.
  - Every result carries, in C(details.kube_bench), the verdict kube-bench (CIS Kubernetes
    Benchmark 1.12, sections 1 to 3) would give on the node as it is after the run; the control's
    own status is stricter where kube-bench only checks that a flag is present.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Inspects and predicts every change and the per-control status C(drift); touches nothing.
  diff_mode:
    support: full
    description: Shows every manifest and file written, before and after (keys are never shown).
  platform:
    support: full
    platforms: posix
    description: Control plane nodes whose components run as static pods (kubeadm's layout); Debian 12 and 13,
      Ubuntu LTS.
options:
  controls:
    description: The controls to check or apply.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Stable identifier, lower-case dotted words such as C(cis.apiserver.profiling).
        type: str
        required: true
      title:
        description: What the control ensures, in words.
        type: str
        required: true
      benchmarks:
        description: Benchmark items this control implements; C(CIS Kubernetes ...) sections that are
          kube-bench control plane checks get kube-bench's verdict in the result.
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
          - controlplane_account
          - controlplane_config
          - controlplane_encryption
          - controlplane_flags
          - controlplane_files
          - controlplane_manifests
      spec:
        description: What the control wants, in the shape its family takes
          (C(plugins/module_utils/_controlplane/families.py) documents each shape).
        type: raw
      by_platform:
        description: Specs for particular platforms, keyed C(debian-13) or C(debian); the most specific key
          that matches replaces O(controls[].spec).
        type: dict
        default: {}
  manifests_dir:
    description: The kubelet's static pod directory.
    type: path
    default: /etc/kubernetes/manifests
  backup_dir:
    description: Where previous manifests and files moved out of O(manifests_dir) are kept; never inside it.
    type: path
    default: /var/backups/nodeguard/manifests
  backup_keep:
    description: Copies kept per manifest in O(backup_dir), from 1 to 100.
    type: int
    default: 5
  health_timeout:
    description: Seconds a restarted component has to answer on its liveness probe, from 10 to 900.
    type: int
    default: 120
seealso:
  - module: nodeguard.hardening.kubelet_baseline
"""

EXAMPLES = r"""
- name: No profiling on the API server, judged as kube-bench judges it
  nodeguard.hardening.controlplane_baseline:
    controls:
      - id: cis.apiserver.profiling
        title: The API server does not serve profiling data
        benchmarks: [{benchmark: CIS Kubernetes Benchmark v1.12, section: "1.2.15"}]
        family: controlplane_flags
        spec: {component: kube-apiserver, set: {profiling: false}}
    health_timeout: 180
  register: controlplane
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["write /etc/kubernetes/manifests/kube-apiserver.yaml (and wait up to 120 s for kube-apiserver to answer)"]
controls:
  description: One result per control, in the order given, with the keys C(id), C(title),
    C(benchmarks), C(level), C(profile), C(status), C(reason), C(expected), C(actual),
    C(differences) and C(details) (see M(nodeguard.hardening.sysctl_baseline)); C(details.kube_bench)
    lists C(check), C(state) (PASS, FAIL, WARN), C(expected), C(actual) and C(source) per kube-bench check.
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 50, "fixed": 8, "drift": 0, "skipped": 2, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import families, kubebench
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.static_pod import Options
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
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
        "manifests_dir": {"type": "path", "default": "/etc/kubernetes/manifests"},
        "backup_dir": {"type": "path", "default": "/var/backups/nodeguard/manifests"},
        "backup_keep": {"type": "int", "default": 5},
        "health_timeout": {"type": "int", "default": 120},
    }


def options(module: AnsibleModule) -> Options:
    params = module.params
    manifests = params["manifests_dir"].rstrip("/") or "/"
    backups = params["backup_dir"].rstrip("/") or "/"
    if not manifests.startswith("/") or not backups.startswith("/"):
        module.fail_json(msg="manifests_dir and backup_dir must be absolute paths")
    if backups == manifests or backups.startswith(manifests + "/"):
        module.fail_json(
            msg=f"backup_dir {backups} is inside manifests_dir: the kubelet would start the backups as pods"
        )
    if not 1 <= params["backup_keep"] <= 100:
        module.fail_json(msg=f"backup_keep must be from 1 to 100, got {params['backup_keep']}")
    if not 10 <= params["health_timeout"] <= 900:
        module.fail_json(msg=f"health_timeout must be from 10 to 900 seconds, got {params['health_timeout']}")
    return Options(manifests, backups, params["backup_keep"], params["health_timeout"])


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    node = Node(module)
    try:
        result = engine.run(module, node, families.build(options(module)))
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    node.forget()
    view = kubebench.View(node)
    for control in result["controls"]:
        control["details"] = {**(control.get("details") or {}), **kubebench.verdicts(view, control)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
