# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils._controls import ControlInputError
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.kmod_off import HEADER, PATH, KmodOff

from .conftest import FakeModule, control

CRAMFS = control("cis.kmod.cramfs", "kmod_off", {"modules": ["cramfs"]})
DCCP = control("cis.kmod.dccp", "kmod_off", {"modules": ["dccp"]})
FULL = (
    HEADER
    + "\n# cis.kmod.cramfs: title of cis.kmod.cramfs\ninstall cramfs /bin/false\nblacklist cramfs\n"
    + "\n# cis.kmod.dccp: title of cis.kmod.dccp\ninstall dccp /bin/false\nblacklist dccp\n"
)


def run(tree, controls, *, check_mode=False, unload_rc=0):
    module = FakeModule(controls, check_mode=check_mode)

    def modprobe(argv):
        if argv[1] == "-r" and unload_rc == 0:
            (tree.module_root / argv[2]).joinpath("initstate").unlink()
            (tree.module_root / argv[2]).rmdir()
        return unload_rc, "", "" if unload_rc == 0 else f"modprobe: FATAL: Module {argv[2]} is in use."

    module.commands["modprobe"] = modprobe
    return module, engine.run(module, tree.node(module), [KmodOff()])


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def test_check_mode_on_fresh_node_reports_drift_and_touches_nothing(tree):
    tree.load_module("cramfs")
    before = tree.snapshot()
    module, result = run(tree, [CRAMFS, DCCP], check_mode=True)
    assert statuses(result) == [("cis.kmod.cramfs", "drift"), ("cis.kmod.dccp", "drift")]
    assert result["changed"] is True
    assert tree.snapshot() == before
    assert module.calls == []
    cramfs = result["controls"][0]
    assert {"item": "cramfs", "where": "live", "expected": "not loaded", "actual": "loaded"} in cramfs["differences"]
    assert {"item": "cramfs", "where": PATH, "expected": "install cramfs /bin/false", "actual": None} in cramfs[
        "differences"
    ]
    assert result["actions"] == [f"write {PATH}", "unload kernel module cramfs"]


def test_apply_writes_file_unloads_and_is_idempotent(tree):
    tree.load_module("cramfs")
    module, result = run(tree, [CRAMFS, DCCP])
    assert statuses(result) == [("cis.kmod.cramfs", "fixed"), ("cis.kmod.dccp", "fixed")]
    assert tree.read(PATH) == FULL
    assert ["/usr/sbin/modprobe", "-r", "cramfs"] in module.calls
    module, again = run(tree, [CRAMFS, DCCP])
    assert statuses(again) == [("cis.kmod.cramfs", "pass"), ("cis.kmod.dccp", "pass")]
    assert again["changed"] is False
    assert module.calls == []


def test_line_removed_by_hand_is_named(tree):
    run(tree, [CRAMFS, DCCP])
    tree.write(PATH, FULL.replace("blacklist dccp\n", ""))
    _unused, result = run(tree, [CRAMFS, DCCP], check_mode=True)
    assert statuses(result) == [("cis.kmod.cramfs", "pass"), ("cis.kmod.dccp", "drift")]
    assert result["controls"][1]["differences"] == [
        {"item": "dccp", "where": PATH, "expected": "blacklist dccp", "actual": None}
    ]


def test_unload_failure_undoes_the_file(tree):
    tree.load_module("cramfs")
    with pytest.raises(engine.ApplyError, match=r"unload kernel module cramfs failed: .*in use.*undid 1 earlier"):
        run(tree, [CRAMFS], unload_rc=1)
    assert tree.read(PATH) is None


def test_builtin_module_is_an_error_not_a_change(tree):
    tree.load_module("cramfs", builtin=True)
    module, result = run(tree, [CRAMFS])
    assert statuses(result) == [("cis.kmod.cramfs", "error")]
    assert "built into this kernel" in result["controls"][0]["reason"]
    assert not any(call[1:2] == ["-r"] for call in module.calls)


def test_disabled_control_lines_are_dropped(tree):
    run(tree, [CRAMFS, DCCP])
    off = dict(DCCP, enabled=False, reason="the site uses dccp")
    _unused, result = run(tree, [CRAMFS, off])
    assert statuses(result) == [("cis.kmod.cramfs", "fixed"), ("cis.kmod.dccp", "skipped")]
    assert "dccp" not in tree.read(PATH)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"modules": ["overlay"]}, "overlay is needed by containers"),
        ({"modules": ["br_netfilter"]}, "br_netfilter is needed"),
        ({"modules": ["nf_conntrack"]}, "nf_conntrack is needed"),
        ({"modules": ["-r"]}, "'-r' is not a kernel module name"),
        ({"modules": []}, "spec.modules must list"),
        ("cramfs", "spec.modules must list"),
    ],
    ids=["overlay", "br_netfilter", "conntrack", "option", "empty", "not-a-dict"],
)
def test_bad_input_fails_before_any_change(tree, spec, message):
    tree.load_module("cramfs")
    before = tree.snapshot()
    with pytest.raises(ControlInputError, match=message):
        run(tree, [CRAMFS, control("site.kmod.bad", "kmod_off", spec)])
    assert tree.snapshot() == before


def test_unknown_family_is_refused(tree):
    with pytest.raises(ControlInputError, match="unknown family 'nope'"):
        run(tree, [control("site.bad", "nope", {})])


def test_platform_spec_wins(tree):
    tree.write("/etc/os-release", 'ID=debian\nVERSION_ID="13"\n')
    picked = control("cis.kmod.x", "kmod_off", {"modules": ["cramfs"]}, by_platform={"debian-13": {"modules": ["hfs"]}})
    _unused, result = run(tree, [picked], check_mode=True)
    assert result["controls"][0]["expected"] == {"hfs": "off"}
