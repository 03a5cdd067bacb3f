# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading systemd units and changing them, for every family that needs a unit masked, running or stopped.

The state of the units a family asks about is read with one C(systemctl show) and cached for the
inspection. Each change is an Action whose undo puts back the state read before it, and whose key
names the unit and the steps, so that two families asking the same of a unit share one action.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils._files import state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node

PROPERTIES = "Id,LoadState,UnitFileState,ActiveState"
# UnitFileState values of a unit that starts at boot (static and generated units have no [Install]).
ENABLED = ("enabled", "static", "generated")
ACTIVE = ("active", "reloading")


@dataclass(frozen=True)
class UnitState:
    """One unit as C(systemctl show) reports it."""

    name: str
    load: str = ""
    file: str = ""
    active: str = ""

    @property
    def installed(self) -> bool:
        return self.load not in ("", "not-found")

    @property
    def masked(self) -> bool:
        """Masked for good: C(masked-runtime) is gone at the next boot."""
        return self.file == "masked" or (self.load == "masked" and self.file != "masked-runtime")

    @property
    def any_mask(self) -> bool:
        return self.load == "masked" or self.file in ("masked", "masked-runtime")

    @property
    def enabled(self) -> bool:
        return self.file in ENABLED

    @property
    def running(self) -> bool:
        return self.active in ACTIVE

    def describe(self) -> str:
        if not self.installed:
            return "not installed"
        return f"{self.file or self.load}, {self.active or 'unknown'}"


def systemctl(node: Node) -> str:
    return node.binary("systemctl") or "systemctl"


def parse_show(text: str, names: list[str]) -> dict[str, UnitState]:
    """C(systemctl show) prints one block of C(KEY=value) lines per unit, in the order asked."""
    blocks: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            continue
        key, _unused, value = line.partition("=")
        blocks[-1][key.strip()] = value.strip()
    blocks = [block for block in blocks if block]
    if len(blocks) != len(names):
        raise CommandError(f"systemctl show returned {len(blocks)} unit(s) for the {len(names)} asked")
    return {
        name: UnitState(name, block.get("LoadState", ""), block.get("UnitFileState", ""), block.get("ActiveState", ""))
        for name, block in zip(names, blocks)
    }


def unit_states(node: Node, names: t.Iterable[str]) -> dict[str, UnitState]:
    """The state of C(names), read with one C(systemctl show) and cached for the inspection."""
    wanted = sorted(set(names))
    if not wanted:
        return {}

    def read() -> dict[str, UnitState]:
        _unused, out, _unused = node.run([systemctl(node), "show", "-p", PROPERTIES, "--", *wanted])
        return parse_show(out, wanted)

    return node.cached("systemctl:show:" + " ".join(wanted), read)


def _diff(state: UnitState, after: str) -> list[dict]:
    return [state_diff(f"unit {state.name}", f"{state.describe()}\n", f"{after}\n")]


def _steps(node: Node, steps: list[list[str]]) -> t.Callable[[], None]:
    tool = systemctl(node)

    def run() -> None:
        for step in steps:
            node.run([tool, *step])

    return run


def _sequence(node: Node, pairs: list[tuple[list[str], list[list[str]]]]) -> tuple[t.Callable, t.Callable]:
    """run and undo of several systemctl steps, each with the steps that undo it. A step that
    fails has the steps before it undone before the error goes on (the engine undoes only
    actions that completed)."""
    tool = systemctl(node)

    def undo_all(count: int) -> None:
        for _unused, undo in reversed(pairs[:count]):
            for step in undo:
                node.run([tool, *step], check=False)

    def run() -> None:
        for done, (step, _unused) in enumerate(pairs):
            try:
                node.run([tool, *step])
            except CommandError:
                undo_all(done)
                raise

    return run, lambda: undo_all(len(pairs))


def _restore(state: UnitState) -> list[list[str]]:
    """What brings a unit that was stopped and disabled (or masked) back to C(state)."""
    steps = []
    if state.file == "enabled":
        steps.append(["enable", state.name])
    if state.running:
        steps.append(["start", state.name])
    return steps


def mask_action(node: Node, state: UnitState) -> Action:
    """C(systemctl mask --now UNIT); the undo unmasks it and enables and starts it as it was."""
    name = state.name
    return Action(
        f"unit:mask:{name}",
        f"mask and stop {name}",
        _steps(node, [["mask", "--now", name]]),
        _steps(node, [["unmask", name], *_restore(state)]),
        _diff(state, "masked, inactive"),
    )


def stop_action(node: Node, state: UnitState) -> Action:
    """C(systemctl disable --now UNIT) for a unit that must not run; the undo restores it."""
    name = state.name
    return Action(
        f"unit:disable+stop:{name}",
        f"disable and stop {name}",
        _steps(node, [["disable", "--now", name]]),
        _steps(node, _restore(state)),
        _diff(state, "disabled, inactive"),
    )


def start_action(node: Node, state: UnitState, *, enable: bool, start: bool) -> Action | None:
    """Unmask (where masked), enable and/or start one unit; None when nothing is to do."""
    name = state.name
    unmask = state.any_mask
    do_enable = enable and (unmask or not state.enabled)
    do_start = start and (unmask or not state.running)
    verbs = [v for v, do in (("unmask", unmask), ("enable", do_enable), ("start", do_start)) if do]
    if not verbs:
        return None
    pairs: list[tuple[list[str], list[list[str]]]] = []
    if unmask:
        pairs.append((["unmask", name], [["mask", *(["--runtime"] if state.file == "masked-runtime" else []), name]]))
    undo_enable = [["disable", name]] if do_enable and state.file != "enabled" else []
    undo_start = [["stop", name]] if do_start and not state.running else []
    if do_enable:
        pairs.append((["enable", *(["--now"] if do_start else []), name], undo_start + undo_enable))
    elif do_start:
        pairs.append((["start", name], undo_start))
    run, undo = _sequence(node, pairs)
    after = f"{'enabled' if enable else state.file}, {'active' if start else state.active}"
    words = ", ".join(verbs[:-1]) + (" and " if len(verbs) > 1 else "") + verbs[-1]
    return Action(
        f"unit:{'+'.join(verbs)}:{name}",
        f"{words} {name}",
        run,
        undo,
        _diff(state, after),
    )


def is_active(node: Node, name: str) -> bool:
    """Whether a unit runs now (read when an action runs, not cached)."""
    return node.run([systemctl(node), "is-active", "--quiet", name], check=False)[0] == 0


def restart_if_running(node: Node, name: str) -> None:
    """Restart a unit that runs, so that it reads its changed configuration; leave a stopped one."""
    if is_active(node, name):
        node.run([systemctl(node), "restart", name])
