# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The block of accept rules the ufw role keeps in /etc/ufw/before.rules."""

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import apply, before
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import plan as planning
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import state as ufw_state

# The end of before.rules as ufw 0.36.2 installs it.
SHIPPED = """*filter
:ufw-before-input - [0:0]
-A ufw-before-input -i lo -j ACCEPT
-A ufw-before-input -p udp -d 239.255.255.250 --dport 1900 -j ACCEPT

# don't delete the 'COMMIT' line or these rules won't be processed
COMMIT
"""
IPIP = "-A ufw-before-input -p 4 -s 10.77.0.0/24 -j ACCEPT"


def test_the_block_goes_before_the_commit_and_its_comment():
    text = before.wanted_text(SHIPPED, [IPIP])
    assert text == SHIPPED.replace(
        "\n# don't delete the 'COMMIT' line",
        f"\n{before.BEGIN}\n{IPIP}\n{before.END}\n# don't delete the 'COMMIT' line",
    )
    assert before.block(text) == [IPIP]
    assert before.differences(text, [IPIP]) == []


def test_a_changed_block_is_replaced_in_place_and_an_empty_one_removed():
    text = before.wanted_text(SHIPPED, [IPIP])
    other = "-A ufw-before-input -p 4 -s 10.88.0.0/16 -j ACCEPT"
    assert before.block(before.wanted_text(text, [other])) == [other]
    # Removing the block gives back the file as ufw shipped it, byte for byte.
    assert before.wanted_text(text, []) == SHIPPED
    assert before.block(before.wanted_text(text, [])) is None


def test_differences_name_the_block_and_what_is_there():
    assert before.differences(SHIPPED, [IPIP]) == [c.difference("accept rules block", before.PATH, [IPIP], None)]
    assert before.differences(SHIPPED, []) == []
    with_block = before.wanted_text(SHIPPED, [IPIP])
    assert before.differences(with_block, []) == [c.difference("accept rules block", before.PATH, None, [IPIP])]


@pytest.mark.parametrize(
    "line",
    [
        "-A ufw-before-input -p tcp --dport 22 -j DROP",
        "-A INPUT -p 4 -j ACCEPT",
        "-A ufw-before-input -p 4 -j ACCEPT\nCOMMIT",
        "-A ufw-before-input -p 4 -s $(reboot) -j ACCEPT",
        "COMMIT",
    ],
)
def test_only_accept_rules_of_ufws_before_chains_are_taken(line):
    with pytest.raises(c.ControlInputError, match="is not an accept rule of ufw's before chains"):
        before.check_lines("k8s.ufw.protocols", [line])


def test_a_file_without_commit_is_refused():
    with pytest.raises(c.ControlInputError, match="has no COMMIT line"):
        before.wanted_text("*filter\n", [IPIP])


def test_a_block_change_on_an_enabled_ufw_reloads_it():
    present = ufw_state.Firewall(enabled=True, loglevel="low", defaults={"incoming": "deny"}, ipv6=True, rules=[])
    steps = planning.plan(present, [], {}, None, "nodeguard")
    made = apply.Change(
        node=None,
        tool="/usr/sbin/ufw",
        present=present,
        steps=steps,
        settings=[],
        enable_service=False,
        texts={},
        timeout=120,
        before=before.wanted_text(SHIPPED, [IPIP]),
    )
    assert made.needed
    assert made.commands() == [["reload"]]
    assert "write the accept rules block of /etc/ufw/before.rules" in made.what()
