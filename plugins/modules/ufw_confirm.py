#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ufw_confirm
short_description: Confirm a ufw change once the controller has logged in again
version_added: 0.3.0
description:
  - M(nodeguard.hardening.ufw_policy) arms a timer on the node before a ufw change that could cut
    the controller off; unless the change is confirmed, the timer puts the previous rules and
    defaults back and reloads ufw, or switches ufw off again when it was off before.
  - Run this module over a new connection, after M(ansible.builtin.meta) with C(reset_connection).
    That the module runs at all proves the controller can still log in. It stops the timer and
    drops the saved files.
  - Fails when the node had already put the previous rules and defaults back (the timer ran out),
    so that a change that did not stay is not taken for one that did.
  - Does nothing when no change awaits confirmation.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Says what it would do (confirm, nothing, or fail for a change already rolled back); stops no timer.
  diff_mode:
    support: none
    description: It changes no file of the configuration; the files it drops are copies kept for the way back.
  platform:
    support: full
    platforms: posix
    description: Nodes with systemd (the timer is a transient systemd timer).
options: {}
seealso:
  - module: nodeguard.hardening.ufw_policy
"""

EXAMPLES = r"""
- name: Reconnect, so that the confirmation proves a new login works
  ansible.builtin.meta: reset_connection

- name: Keep the new ufw rules and defaults
  nodeguard.hardening.ufw_confirm:
"""

RETURN = r"""
state:
  description:
    - C(confirmed) (the change stays; in check mode, it would be confirmed), C(none) (nothing
      awaited confirmation) or C(rolled-back) (too late, the node had put the previous files back; the task fails).
  returned: always
  type: str
  sample: confirmed
files:
  description: The files the change awaiting confirmation covers.
  returned: always
  type: list
  elements: str
  sample: ["/etc/default/ufw", "/etc/ufw/ufw.conf", "/etc/ufw/user.rules", "/etc/ufw/user6.rules"]
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: confirmed; nodeguard-ufw-rollback.timer stopped
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _rollback
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rollback import KIND


def main() -> None:
    _rollback.run_confirm(AnsibleModule(argument_spec={}, supports_check_mode=True), KIND)


if __name__ == "__main__":
    main()
