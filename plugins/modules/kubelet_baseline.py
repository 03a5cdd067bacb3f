#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: kubelet_baseline
short_description: Check or apply the CIS Kubernetes kubelet controls of a node in one call, as kube-bench judges them
version_added: 0.2.0
description:
  - Takes the whole set of kubelet controls (modes and owners of the kubelet's files, the settings
    of its KubeletConfiguration file, flags that must not be on its command line, kube-proxy's
    metrics address), each of one I(family), and checks or applies them all in one module call.
  - Finds the kubelet as systemd runs it, from C(systemctl show), the unit file, every drop-in and
    the environment files they load, and the running process. Its configuration file, kubeconfig
    and client CA are the ones its command line and configuration name. kube-bench finds them
    differently (the first existing path of its lists); where the two disagree, the
    C(kubelet_paths) family reports it.
  - Settings are written into the configuration file, a key absent from the file counts as not
    set. Keys the module does not manage, their order and their comments stay as they are; every
    managed change goes into one new version of the file, written atomically with its mode, and
    the kubelet is restarted once. It must then answer on its healthz endpoint; when it does not,
    the previous files are put back, the kubelet is restarted on them, and the task fails saying so.
  - A flag on the kubelet's command line beats the file. A flag that gives a managed key another
    value is reported with the file and line that set it, and removed only with
    O(remove_overriding_flags=true).
  - Every result carries, in C(details.kube_bench), the verdict kube-bench (CIS Kubernetes
    Benchmark 1.12 node checks) would give on the same node for the control's checks; the
    control's own status is stricter where kube-bench only checks that a key is present.
  - A configuration file kube-bench or the kubelet could not read (invalid YAML, another kind, a
    wrong type for a managed key) fails the task with the reason; nothing is changed.
  - The configuration files are read by the module itself (standard library only); YAML outside
    the block and one-line flow styles kubeadm and hand-written files use (anchors, tags, block
    scalars) is refused with the line.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Inspects and predicts every change and the per-control status C(drift); touches nothing.
  diff_mode:
    support: full
    description: Shows every file written, before and after.
  platform:
    support: full
    platforms: posix
    description: Nodes whose kubelet runs under systemd; Debian 12 and 13, Ubuntu LTS.
options:
  controls:
    description: The controls to check or apply.
    type: list
    elements: dict
    required: true
    suboptions:
      id:
        description: Stable identifier, lower-case dotted words such as C(cis.kubelet.anonymous_auth).
        type: str
        required: true
      title:
        description: What the control ensures, in words.
        type: str
        required: true
      benchmarks:
        description: Benchmark items this control implements; C(CIS Kubernetes ...) sections that are
          kube-bench node checks get kube-bench's verdict in the result.
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
        choices: [kubelet_files, kubelet_config, kube_proxy, kubelet_paths]
      spec:
        description: What the control wants, in the shape its family takes (each family's module under
          C(plugins/module_utils/_kubelet/) documents its shape).
        type: raw
      by_platform:
        description: Specs for particular platforms, keyed C(debian-13) or C(debian); the most specific key
          that matches replaces O(controls[].spec).
        type: dict
        default: {}
  service:
    description: The kubelet's systemd unit.
    type: str
    default: kubelet.service
  config_path:
    description: The kubelet's configuration file, where its command line has no C(--config).
    type: path
  remove_overriding_flags:
    description: Remove flags on the kubelet's command line that give a managed key another value
      (from environment files, or from unit files under C(/etc)).
    type: bool
    default: false
  restart_timeout:
    description: Seconds the kubelet has to answer on its healthz endpoint after a restart, from 10 to 600.
    type: int
    default: 60
  kube_proxy_config:
    description: kube-proxy's configuration file on the node (KubeProxyConfiguration).
    type: path
  kube_proxy_configmap:
    description: The content of the kube-proxy ConfigMap (the ConfigMap, or its C(config.conf)); judged only.
    type: str
seealso:
  - module: nodeguard.hardening.system_baseline
"""

EXAMPLES = r"""
- name: Anonymous requests refused and the read-only port closed, with kube-bench's verdict
  nodeguard.hardening.kubelet_baseline:
    controls:
      - id: cis.kubelet.anonymous_auth
        title: The kubelet refuses anonymous requests
        benchmarks: [{benchmark: CIS Kubernetes Benchmark v1.12, section: "4.2.1"}]
        family: kubelet_config
        spec: {settings: {authentication.anonymous.enabled: false}}
      - id: cis.kubelet.read_only_port
        title: The kubelet's read-only port is closed
        benchmarks: [{benchmark: CIS Kubernetes Benchmark v1.12, section: "4.2.4"}]
        family: kubelet_config
        spec: {settings: {readOnlyPort: 0}}
    remove_overriding_flags: true
  register: kubelet
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["write /var/lib/kubelet/config.yaml and restart kubelet.service, waiting for its healthz endpoint"]
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
  sample: {"pass": 20, "fixed": 3, "drift": 0, "skipped": 2, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import families
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.config import Options
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.proxy import ProxyOptions
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
        "service": {"type": "str", "default": "kubelet.service"},
        "config_path": {"type": "path"},
        "remove_overriding_flags": {"type": "bool", "default": False},
        "restart_timeout": {"type": "int", "default": 60},
        "kube_proxy_config": {"type": "path"},
        "kube_proxy_configmap": {"type": "str"},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    if not 10 <= params["restart_timeout"] <= 600:
        module.fail_json(msg=f"restart_timeout must be from 10 to 600 seconds, got {params['restart_timeout']}")
    if params["kube_proxy_config"] and params["kube_proxy_configmap"] is not None:
        module.fail_json(msg="give kube_proxy_config or kube_proxy_configmap, not both")
    options = Options(
        service=params["service"],
        config_path=params["config_path"],
        remove_overriding_flags=params["remove_overriding_flags"],
        restart_timeout=params["restart_timeout"],
    )
    proxy = ProxyOptions(config=params["kube_proxy_config"], configmap=params["kube_proxy_configmap"])
    try:
        result = engine.run(module, Node(module), families.build(options, proxy))
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
