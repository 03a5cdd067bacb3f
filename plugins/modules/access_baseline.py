#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: access_baseline
short_description: Check or apply every CIS access control of a node in one call, without locking Ansible out
version_added: 0.2.0
description:
  - Takes the whole set of access controls (the SSH server, sudo, su, PAM, login.defs, local
    accounts and their files, the shell's timeout and umask), each of one I(family), and checks or
    applies them all in one module call.
  - Every control's spec is validated before anything changes; a bad one fails the task and
    changes nothing.
  - The SSH server's settings go into one drop-in that C(sshd -t) and C(sshd -T) judge, on a copy
    of the planned configuration, before it is installed. A configuration that would deny the
    account, port or authentication method Ansible is connected with is refused before any change
    of any family (the sshd family comes first).
  - Before sshd is reloaded the node arms its own way back, a timer that puts the previous files
    back unless the change is confirmed. The module then returns RV(sshd_rollback_armed=true); the
    controller opens a new connection and runs M(nodeguard.hardening.sshd_confirm). If it cannot
    log in any more, the node restores the previous configuration by itself.
  - Accounts named in O(protect), the account the module runs as and the one that called sudo
    are never changed; what differs on them is reported.
  - PAM changes go through Debian's C(pam-auth-update) profiles. They are made only when every
    module the new stacks load is installed and no hand-made line would be lost; afterwards
    C(sudo -n true) as the account that called sudo must still work where it did before, or the
    previous stacks are put back. su is restricted to an empty group only where Ansible does not
    itself become root with su.
  - When a change fails, the changes already made in this run are undone in reverse order and
    the task fails naming the change that failed. After the changes every control is inspected
    again; C(fixed) means nothing was left to change.
  - Reports one result per control, C(pass), C(fixed), C(drift) (check mode), C(skipped) with a
    reason, or C(error) with a reason; C(fixed), C(drift) and C(error) list what differs.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description:
      - Inspects and predicts every change and the per-control status C(drift); touches nothing,
        arms no rollback.
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
        description: Stable identifier, lower-case dotted words such as C(cis.sshd.permit_root_login).
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
          - sshd
          - packages
          - managed_file
          - file_attributes
          - login_defs
          - accounts
          - sudoers
          - pam
          - su_wheel
      spec:
        description: What the control wants, in the shape its family takes (each family's module under
          C(plugins/module_utils/_access/) and C(plugins/module_utils/_system/) documents its shape).
        type: raw
      by_platform:
        description:
          - Specs for particular platforms, keyed C(debian-13) or C(debian) (from C(/etc/os-release));
            the most specific key that matches replaces O(controls[].spec).
        type: dict
        default: {}
  connection:
    description:
      - What Ansible knows of the connection it runs the module over. The sshd family checks the
        candidate configuration against it as well as against the SSH session the module finds
        among its parent processes.
      - Without an SSH session among the parent processes (a jump host that hides it, C(/proc)
        mounted with C(hidepid)), O(connection.user) and O(connection.port) are required before
        sshd's configuration is changed.
    type: dict
    suboptions:
      user:
        description: The account Ansible logs in with (C(ansible_user)).
        type: str
      port:
        description: The port Ansible connects to (C(ansible_port)).
        type: int
      address:
        description: The node's address Ansible connects to (C(ansible_host)); names that are no IP address are ignored.
        type: str
      client_address:
        description: The address the node sees the controller (or the jump host) connect from.
        type: str
      method:
        description: The authentication method Ansible uses, where the node's logs cannot tell.
        type: str
        choices: [publickey, password, keyboard-interactive, gssapi-with-mic, hostbased]
      local:
        description: Ansible runs on the node itself (no SSH); only C(sshd -t) judges the candidate then.
        type: bool
  rollback_timeout:
    description:
      - Seconds the node waits for M(nodeguard.hardening.sshd_confirm) after an sshd change before it
        puts the previous configuration back by itself.
      - From 30 to 3600.
    type: int
    default: 120
  protect:
    description:
      - Accounts the account controls never change (the role passes the account Ansible connects
        with). Their differences are reported with the reason.
      - The account the module runs as and the one that called sudo are protected whatever this says.
    type: list
    elements: str
    default: []
seealso:
  - module: nodeguard.hardening.sshd_confirm
  - module: nodeguard.hardening.system_baseline
"""

EXAMPLES = r"""
- name: Root logins refused, as long as Ansible does not log in as root
  nodeguard.hardening.access_baseline:
    controls:
      - id: cis.sshd.permit_root_login
        title: sshd refuses root logins
        family: sshd
        spec: {settings: {PermitRootLogin: false}}
    connection:
      user: "{{ ansible_user }}"
      port: "{{ ansible_port | default(22) }}"
    protect: ["{{ ansible_user }}"]
  register: access

- name: Reconnect
  ansible.builtin.meta: reset_connection

- name: Confirm the new sshd configuration over the new connection
  nodeguard.hardening.sshd_confirm:
  when: access.sshd_rollback_armed
"""

RETURN = r"""
actions:
  description: The changes made (or, in check mode, that would be made), in words.
  returned: always
  type: list
  elements: str
  sample: ["install /etc/ssh/sshd_config.d/00-nodeguard-hardening.conf and reload sshd", "write /etc/login.defs"]
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
  sample: {"pass": 40, "fixed": 3, "drift": 0, "skipped": 2, "error": 0}
sshd_rollback_armed:
  description:
    - Whether an sshd change waits for confirmation on the node (its rollback timer runs). Run
      M(nodeguard.hardening.sshd_confirm) over a new connection before O(rollback_timeout) seconds pass.
    - Always false in check mode.
  returned: always
  type: bool
  sample: true
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls
from ansible_collections.nodeguard.hardening.plugins.module_utils._access import families
from ansible_collections.nodeguard.hardening.plugins.module_utils._access.sshd import guard, rollback
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
        "connection": {
            "type": "dict",
            "options": {
                "user": {"type": "str"},
                "port": {"type": "int"},
                "address": {"type": "str"},
                "client_address": {"type": "str"},
                "method": {"type": "str", "choices": list(guard.METHODS)},
                "local": {"type": "bool"},
            },
        },
        "rollback_timeout": {"type": "int", "default": rollback.DEFAULT_TIMEOUT},
        "protect": {"type": "list", "elements": "str", "default": []},
    }


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    node = Node(module)
    try:
        result = engine.run(
            module, node, families.build(module.params["connection"], module.params["rollback_timeout"])
        )
        armed = not module.check_mode and rollback.state(node).pending
    except (_controls.ControlInputError, engine.ApplyError, CommandError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    module.exit_json(sshd_rollback_armed=armed, **result)


if __name__ == "__main__":
    main()
