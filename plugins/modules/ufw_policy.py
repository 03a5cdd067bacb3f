#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ufw_policy
short_description: Check or apply a node's whole ufw policy in one call, without locking the controller out
version_added: 0.3.0
description:
  - Takes the whole wanted ufw policy as controls (rules in order, default policies, log level,
    ufw enabled, settings of C(/etc/default/ufw)), together with the firewall controls of the CIS
    benchmark (ufw installed, iptables-persistent absent, nftables not in use, a rule for every
    listening port, one iptables backend for ufw and the Kubernetes data plane).
  - Every rule is checked as ufw 0.36 checks it before anything changes; one bad rule fails the
    task and changes nothing.
  - ufw's state is read from its own files (C(/etc/ufw/ufw.conf), C(/etc/default/ufw),
    C(/etc/ufw/user.rules) and C(user6.rules)), not from C(ufw status); only the difference is
    applied, through ufw's own commands. Rules this collection made carry a comment starting
    with O(prefix); other rules are kept, and deleted only with O(purge).
  - A policy that would refuse the controller's next SSH connection (its address, the node's
    address and port it connects to, the interface; read from the module's own sshd session)
    is refused before any change. Before the first change the node arms a transient systemd
    timer that puts ufw's previous files back and reloads ufw unless
    M(nodeguard.hardening.ufw_confirm) confirms the change over a new connection.
  - ufw only touches its own chains (with C(MANAGE_BUILTINS=no)); the chains of kube-proxy and the
    CNI stay as they are when ufw is enabled or reloaded.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Reports every difference as drift and runs no ufw command.
  diff_mode:
    support: full
    description: Shows ufw's state (enabled, log level, defaults, rules in order) before and as wanted.
  platform:
    support: full
    platforms: posix
    description: Debian and Ubuntu nodes with systemd and ufw 0.36.
options:
  controls:
    description:
      - The controls, as the role's catalog gives them (see M(nodeguard.hardening.system_baseline)
        for the common fields). C(family) is C(ufw), C(packages) or C(units); the shapes of the
        C(ufw) family's C(spec) are documented in C(plugins/module_utils/_ufw/families.py).
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
        choices: [ufw, packages, units]
      spec:
        description: What the control wants (its family documents the shape).
        type: raw
      by_platform:
        description: Specs for particular platforms, keyed C(debian-13) or C(debian).
        type: dict
        default: {}
  prefix:
    description:
      - The start of the comment of every rule this collection makes; rules with it that no
        control wants are deleted.
    type: str
    default: nodeguard
  purge:
    description: Delete every rule no control wants, also those this collection did not make.
    type: bool
    default: false
  connection:
    description: How Ansible reaches the node. With C(local), no SSH connection is guarded.
    type: dict
    default: {}
    suboptions:
      local:
        description: Ansible runs on the node itself.
        type: bool
        default: false
  ssh_from:
    description:
      - Sources (addresses or networks, or C(any)) the SSH port the controller is connected to is
        opened to, whatever that port is, each rule commented with O(prefix) and the word ssh; the
        port is read from the module's own sshd session. Those rules count as rules of the control
        with C(extras).
      - Not given, no such rule is added and the policy itself must let the controller in.
    type: list
    elements: str
  rollback_timeout:
    description: Seconds after which the node puts ufw's previous state back unless the change is confirmed.
    type: int
    default: 120
seealso:
  - module: nodeguard.hardening.ufw_confirm
"""

EXAMPLES = r"""
- name: ufw enabled, deny by default, SSH open, the API server open to the node network
  nodeguard.hardening.ufw_policy:
    controls:
      - id: k8s.ufw.rules
        title: The node's ports are open to their sources only
        family: ufw
        spec:
          extras: true
          rules:
            - {port: 22, protocol: tcp, comment: "nodeguard: ssh"}
            - {port: 6443, protocol: tcp, from: 10.0.0.0/24, comment: "nodeguard: kube-apiserver"}
      - id: cis.ufw.default_deny
        title: ufw denies by default
        family: ufw
        spec: {defaults: {incoming: deny, routed: deny}}
      - id: cis.ufw.enabled
        title: ufw is enabled
        family: ufw
        spec: {enabled: true}
  register: firewall

- name: Reconnect, so that the confirmation proves a new login works
  ansible.builtin.meta: reset_connection

- name: Keep the new ufw policy
  nodeguard.hardening.ufw_confirm:
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["make ufw's policy the wanted one: ufw is not enabled; missing rule: allow in tcp to any port 22"]
controls:
  description: One result per control, with the keys C(id), C(title), C(benchmarks), C(level),
    C(profile), C(status), C(reason), C(expected), C(actual), C(differences) and C(details)
    (missing, extra, changed and out-of-order rules are differences of the rules controls).
  returned: always
  type: list
  elements: dict
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 10, "fixed": 2, "drift": 0, "skipped": 1, "error": 0}
ufw_rollback_armed:
  description: A change was made and the node's timer waits for M(nodeguard.hardening.ufw_confirm).
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls, _rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.packages import Packages, PackagesPurge
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.units import Units
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import families
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import canonical_address

FAMILIES = ("ufw", "packages", "units")


def argument_spec() -> dict:
    return {
        "controls": _controls.control_argument_spec(
            {
                "family": {"type": "str", "required": True, "choices": list(FAMILIES)},
                "spec": {"type": "raw"},
                "by_platform": {"type": "dict", "default": {}},
            }
        ),
        "prefix": {"type": "str", "default": "nodeguard"},
        "purge": {"type": "bool", "default": False},
        "connection": {"type": "dict", "default": {}, "options": {"local": {"type": "bool", "default": False}}},
        "ssh_from": {"type": "list", "elements": "str"},
        "rollback_timeout": {"type": "int", "default": 120},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    node = Node(module)
    try:
        prefix = params["prefix"].strip()
        if not prefix or "'" in prefix or "\n" in prefix:
            raise _controls.ControlInputError("prefix must be a word of a ufw comment (no quote, no new line)")
        options = families.Options(
            prefix=prefix,
            purge=params["purge"],
            local=bool((params["connection"] or {}).get("local")),
            rollback_timeout=_rollback.check_timeout(params["rollback_timeout"]),
            ssh_from=params["ssh_from"],
        )
        for source in params["ssh_from"] or []:
            canonical_address(source, "ssh_from")
        result = engine.run(module, node, [Packages(), Units(), *families.build(options), PackagesPurge()])
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    result["ufw_rollback_armed"] = bool(options.armed)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
