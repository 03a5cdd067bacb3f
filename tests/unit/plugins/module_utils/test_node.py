# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._node import NodePaths


@pytest.mark.parametrize(
    ("present", "name", "expected"),
    [
        ("br_netfilter", "br_netfilter", True),
        ("br_netfilter", "br-netfilter", True),
        ("nf_conntrack", "nf-conntrack", True),
        ("overlay", "br_netfilter", False),
    ],
    ids=["same", "dash-is-underscore", "dash-is-underscore-inside", "other"],
)
def test_module_loaded(tmp_path, present, name, expected):
    (tmp_path / present).mkdir()
    assert NodePaths(module_root=str(tmp_path)).module_loaded(name) is expected


@pytest.mark.parametrize(
    ("root", "path", "expected"),
    [
        ("/", "/etc/sysctl.d/a.conf", "/etc/sysctl.d/a.conf"),
        ("/tmp/tree", "/etc/sysctl.d/a.conf", "/tmp/tree/etc/sysctl.d/a.conf"),
    ],
    ids=["real-root", "test-tree"],
)
def test_conf_is_under_conf_root(root, path, expected):
    assert NodePaths(conf_root=root).conf(path) == expected
