# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine with two small families: order, shared actions, re-inspection and undo across families."""

from __future__ import annotations

import os

import pytest

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system import engine

from .conftest import FakeModule, control


class Flag(engine.Family):
    """Wants a file to exist; its action creates it (or fails, when asked to)."""

    name = "flag"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def validate(self, node, control, spec):
        if not isinstance(spec, dict) or "path" not in spec:
            raise c.ControlInputError(f"control {control['id']!r}: spec.path is required")
        return spec["path"]

    def inspect(self, node, items):
        found = {}
        for ctl, path in items:
            finding = engine.Finding(
                expected={path: "present"}, actual={path: "present" if node.exists(path) else None}
            )
            if not node.exists(path):
                finding.differences.append(c.difference(path, "file", "present", None))
                finding.actions.append(self._create(node, path))
            found[ctl["id"]] = finding
        return found

    def _create(self, node, path):
        target = node.path(path)

        def run():
            if self.fail:
                raise OSError(f"cannot create {path}")
            with open(target, "w", encoding="utf-8") as handle:
                handle.write("x")

        def undo():
            os.unlink(target)

        # One key per path: two controls wanting the same file create it once.
        return engine.Action(f"create:{path}", f"create {path}", run, undo)


class Needs(engine.Family):
    """Passes only when another family's file exists: it must be inspected after that family acted."""

    name = "needs"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def validate(self, node, control, spec):
        return spec["path"]

    def inspect(self, node, items):
        found = {}
        for ctl, path in items:
            if node.exists(path):
                found[ctl["id"]] = engine.Finding()
            else:
                finding = engine.Finding(differences=[c.difference(path, "file", "present", None)])
                finding.actions.append(engine.Action("boom", "fail on purpose", self._boom))
                found[ctl["id"]] = finding
        return found

    def _boom(self):
        raise OSError("no")


def run(tree, controls, families, check_mode=False):
    module = FakeModule(controls, check_mode=check_mode)
    return engine.run(module, tree.node(module), families)


A = control("site.flag.a", "flag", {"path": "/a"})
A_TWICE = control("site.flag.a2", "flag", {"path": "/a"})
B = control("site.flag.b", "flag", {"path": "/b"})
NEEDS_A = control("site.needs.a", "needs", {"path": "/a"})


def statuses(result):
    return [(r["id"], r["status"]) for r in result["controls"]]


def test_a_later_family_sees_what_an_earlier_one_made(tree):
    result = run(tree, [NEEDS_A, A], [Flag(), Needs()])
    assert statuses(result) == [("site.needs.a", "pass"), ("site.flag.a", "fixed")]
    assert tree.read("/a") == "x"


def test_check_mode_inspects_the_node_as_it_is(tree):
    result = run(tree, [NEEDS_A, A], [Flag(), Needs()], check_mode=True)
    assert statuses(result) == [("site.needs.a", "drift"), ("site.flag.a", "drift")]
    assert tree.read("/a") is None
    assert result["actions"] == ["create /a", "fail on purpose"]


def test_an_action_shared_by_two_controls_runs_once(tree):
    result = run(tree, [A, A_TWICE], [Flag()])
    assert statuses(result) == [("site.flag.a", "fixed"), ("site.flag.a2", "fixed")]
    assert result["actions"] == ["create /a"]


def test_failure_in_a_later_family_undoes_the_earlier_families(tree):
    with pytest.raises(engine.ApplyError, match=r"fail on purpose failed: no; undid 1 earlier change"):
        run(tree, [A, control("site.needs.c", "needs", {"path": "/c"})], [Flag(), Needs()])
    assert tree.read("/a") is None


def test_failure_of_the_first_action_says_nothing_was_changed(tree):
    with pytest.raises(engine.ApplyError, match=r"create /a failed: cannot create /a; nothing had been changed"):
        run(tree, [A, B], [Flag(fail=True)])
    assert tree.read("/a") is None and tree.read("/b") is None


def test_bad_spec_of_a_later_family_fails_before_the_first_family_acts(tree):
    with pytest.raises(c.ControlInputError, match=r"spec\.path is required"):
        run(tree, [A, control("site.flag.bad", "flag", {})], [Flag()])
    assert tree.read("/a") is None


def test_a_fix_that_does_not_hold_is_an_error(tree):
    """A family whose action leaves the difference in place is reported as error, not fixed."""

    class Stubborn(Flag):
        def _create(self, node, path):
            return engine.Action(f"noop:{path}", f"pretend to create {path}", lambda: None)

    result = run(tree, [A], [Stubborn()])
    assert statuses(result) == [("site.flag.a", "error")]
    assert result["controls"][0]["reason"] == "still differs after the change: /a (file): absent, expected 'present'"
