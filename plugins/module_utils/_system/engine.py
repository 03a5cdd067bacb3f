# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One pass over every system control: validate all, inspect all, change what differs, inspect again.

A family (kmod_off, mounts, ...) knows one kind of control. It validates a control's C(spec)
without changing anything, and inspects all of its controls at once, returning per control the
differences it found and the actions that remove them. Every spec is validated before any
family inspects. Then family after family, in the order given, is inspected and its actions run,
so what one family installs or starts is there when the next one looks. Actions that serve several
controls (one managed file for many of them) share a key and run once. When an action fails, every
action already done in the run is undone in reverse order, so a run is all or nothing. After its
changes a family is inspected again: C(fixed) means the second look found nothing left to change.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node


class ApplyError(RuntimeError):
    """A change failed; the changes made before it were undone."""


@dataclass
class Action:
    """One change to the node. C(key) identifies it across controls, C(what) says it in words."""

    key: str
    what: str
    run: t.Callable[[], None]
    undo: t.Callable[[], None] | None = None
    diff: list[dict] = field(default_factory=list)


@dataclass
class Finding:
    """What one control found: C(differences) (c.difference items) and the C(actions) fixing them.

    C(skipped) is the reason a control does not apply to this node (no separate /tmp, no GRUB).
    C(unfixable) says why a difference cannot be changed by this run (reported as error when not
    in check mode, and as drift in check mode). C(kept) says why differences are left in place on
    purpose (a setting the user chose not to have changed): what is still there after the changes
    is reported as drift with that reason, in every mode.
    """

    expected: t.Any = None
    actual: t.Any = None
    differences: list[dict] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    skipped: str | None = None
    unfixable: str | None = None
    kept: str | None = None
    details: dict = field(default_factory=dict)


class Family:
    """Base of every family: C(name) is the value of a control's C(family) field."""

    name = ""

    def validate(self, node: Node, control: dict, spec: t.Any) -> t.Any:
        """Check the spec and return it normalised; raise c.ControlInputError naming what is wrong."""
        raise NotImplementedError

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        """Read the node (never change it) and return a Finding per control id."""
        raise NotImplementedError


def one_kind(control: dict, spec: t.Any, kinds: t.Iterable[str], usage: str) -> tuple[str, t.Any]:
    """(kind, value) of a spec that is a mapping with exactly one of C(kinds) as its key; otherwise
    c.ControlInputError C(control 'ID': USAGE)."""
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in kinds:
        raise c.ControlInputError(f"control {control['id']!r}: {usage}")
    return next(iter(spec.items()))


def spec_for(node: Node, control: dict) -> t.Any:
    """The control's spec for this platform: C(by_platform) keyed C(debian-13) or C(debian) wins."""
    variants = control.get("by_platform") or {}
    if not isinstance(variants, dict):
        raise c.ControlInputError(f"control {control['id']!r}: by_platform must map platform names to specs")
    for key in node.platform():
        if key in variants:
            return variants[key]
    return control.get("spec")


def run(module: t.Any, node: Node, families: list[Family]) -> dict[str, t.Any]:
    controls = module.params["controls"]
    c.validate_controls(controls)
    by_name = {family.name: family for family in families}
    grouped: dict[str, list[tuple[dict, t.Any]]] = {name: [] for name in by_name}
    for control in controls:
        name = control.get("family")
        if name not in by_name:
            raise c.ControlInputError(
                f"control {control['id']!r}: unknown family {name!r}; known: {', '.join(sorted(by_name))}"
            )
        if control["enabled"]:
            spec = by_name[name].validate(node, control, spec_for(node, control))
            grouped[name].append((control, spec))

    findings: dict[str, Finding] = {}
    after: dict[str, Finding] = {}
    done: list[Action] = []
    # Family by family, so that what one installs or starts is there when the next one looks.
    for family in families:
        items = grouped[family.name]
        if not items:
            continue
        try:
            found = family.inspect(node, items)
        except (c.ControlInputError, CommandError) as exc:
            # A later family cannot read the node: the run stays all or nothing.
            if not done:
                raise
            rollback(done)
            raise ApplyError(f"{exc}; undid {len(done)} earlier change(s) of this run") from exc
        findings.update(found)
        if node.check_mode:
            continue
        keys = {action.key for action in done}
        todo = [action for action in unique_actions(found) if action.key not in keys]
        done += apply(todo, done)
        if todo:
            node.forget()
            found = family.inspect(node, items)
        after.update(found)
    enabled = {control["id"]: control for items in grouped.values() for control, _unused in items}
    results = {cid: result(enabled[cid], finding, after.get(cid), node.check_mode) for cid, finding in findings.items()}
    actions = unique_actions(findings)
    return c.module_result(
        controls,
        results,
        changed=bool(actions),
        diff=[entry for action in actions for entry in action.diff],
        actions=[action.what for action in actions],
    )


def unique_actions(findings: dict[str, Finding]) -> list[Action]:
    seen: dict[str, Action] = {}
    for finding in findings.values():
        if finding.skipped or finding.unfixable:
            continue
        for action in finding.actions:
            seen.setdefault(action.key, action)
    return list(seen.values())


def apply(todo: list[Action], done: list[Action]) -> list[Action]:
    """Run C(todo) in order; when one fails, undo it all (C(done) too, the earlier families' changes)."""
    applied: list[Action] = []
    for action in todo:
        try:
            action.run()
        except (OSError, CommandError, c.ControlInputError) as exc:
            earlier = done + applied
            rollback(earlier)
            raise ApplyError(
                f"{action.what} failed: {exc}; "
                + (f"undid {len(earlier)} earlier change(s) of this run" if earlier else "nothing had been changed")
            ) from exc
        applied.append(action)
    return applied


def rollback(done: list[Action]) -> None:
    for action in reversed(done):
        if action.undo is not None:
            try:
                action.undo()
            except (OSError, CommandError):
                continue


def result(control: dict, before: Finding, after: Finding | None, check_mode: bool) -> dict:
    common = {"expected": before.expected, "details": before.details}
    if before.skipped:
        return c.make_result(control, c.SKIPPED, reason=before.skipped, actual=before.actual, **common)
    if not before.differences:
        return c.make_result(control, c.PASS, actual=before.actual, **common)
    if check_mode:
        return c.make_result(control, c.DRIFT, actual=before.actual, differences=before.differences, **common)
    if before.unfixable:
        return c.make_result(
            control,
            c.ERROR,
            reason=f"{before.unfixable}: {c.describe(before.differences)}",
            actual=before.actual,
            differences=before.differences,
            **common,
        )
    kept = (after or before).kept
    if kept and (after is None or after.differences):
        left = after.differences if after else before.differences
        return c.make_result(
            control,
            c.DRIFT,
            reason=f"{kept}: {c.describe(left)}",
            actual=(after or before).actual,
            differences=left,
            expected=before.expected,
            details=(after or before).details,
        )
    if after is None or after.differences:
        left = after.differences if after else before.differences
        return c.make_result(
            control,
            c.ERROR,
            reason=f"still differs after the change: {c.describe(left)}",
            actual=after.actual if after else before.actual,
            differences=left,
            **common,
        )
    # What was fixed: the differences found before the change; the details as the node is now.
    return c.make_result(
        control,
        c.FIXED,
        actual=after.actual,
        differences=before.differences,
        expected=before.expected,
        details=after.details or before.details,
    )
