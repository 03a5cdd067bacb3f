# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The difference between the ufw policy a user wants and the one ufw has, as the steps that close it.

Rules are compared per IP version, in order, since ufw stops at the first rule that matches:
- a wanted rule ufw lacks is added; where a rule of the wanted list that ufw has comes after it,
  the managed rules from there on are deleted and added again in the wanted order;
- a rule in a wanted rule's slot (same ports, protocol, addresses, interfaces) with another
  action, log type or comment is replaced in place, as ufw does when that rule is added;
- a managed rule (its comment starts with the prefix) that is no longer wanted is deleted;
  any other rule is kept and reported, and deleted only when the user asks to purge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import Rule, RuleError
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.state import Firewall


@dataclass
class Plan:
    """What a run changes, each part saying what differs."""

    enable: bool = False
    loglevel: tuple[str, str] | None = None
    defaults: dict[str, tuple[str, str]] = field(default_factory=dict)
    delete: list[Rule] = field(default_factory=list)
    replace: list[tuple[Rule, Rule]] = field(default_factory=list)
    add: list[Rule] = field(default_factory=list)
    moved: list[Rule] = field(default_factory=list)
    kept: list[Rule] = field(default_factory=list)

    @property
    def rules_change(self) -> bool:
        return bool(self.delete or self.replace or self.add)

    @property
    def changes(self) -> bool:
        return self.enable or bool(self.loglevel or self.defaults) or self.rules_change

    def describe(self) -> list[str]:
        """One line per difference, as the drift and fixed results report them."""
        lines = []
        if self.enable:
            lines.append("ufw is not enabled")
        if self.loglevel:
            lines.append(f"logging is {self.loglevel[0]!r}, expected {self.loglevel[1]!r}")
        for direction, (present, wanted) in self.defaults.items():
            lines.append(f"default {direction} policy is {present!r}, expected {wanted!r}")
        moved = {rule.slot for rule in self.moved}
        for rule in self.delete:
            if rule.slot not in moved:
                lines.append(f"extra rule: {rule.describe()}")
        for present, wanted in self.replace:
            lines.append(f"changed rule: {present.describe()}, expected {wanted.describe()}")
        for rule in self.add:
            lines.append(("out of order: " if rule.slot in moved else "missing rule: ") + rule.describe())
        return lines


def unique(wanted: list[Rule]) -> list[Rule]:
    """WANTED without repeats; two wanted rules for one slot that differ are a RuleError."""
    seen: dict[tuple, Rule] = {}
    out = []
    for rule in wanted:
        earlier = seen.get(rule.slot)
        if earlier is None:
            seen[rule.slot] = rule
            out.append(rule)
        elif earlier != rule:
            raise RuleError(
                f"two wanted rules take one ufw slot: {earlier.describe()} and {rule.describe()};"
                " ufw keeps one rule per ports, protocol, addresses and interfaces"
            )
    return out


def _family(present: list[Rule], wanted: list[Rule], managed: str, purge: bool, plan: Plan) -> None:
    wanted_by_slot = {rule.slot: rule for rule in wanted}
    order = {rule.slot: index for index, rule in enumerate(wanted)}
    staying: list[Rule] = []
    for rule in present:
        if rule.slot in wanted_by_slot:
            staying.append(rule)
        elif rule.comment.startswith(managed) or purge:
            plan.delete.append(rule)
        else:
            plan.kept.append(rule)
    # The first wanted index from which ufw's order is not the wanted one: a missing rule before
    # a present one, or two present ones the wrong way round.
    present_indexes = [order[rule.slot] for rule in staying]
    first_wrong = len(wanted)
    for position in range(1, len(present_indexes)):
        if present_indexes[position] < present_indexes[position - 1]:
            first_wrong = min(first_wrong, *present_indexes[position:])
    last_present = max(present_indexes, default=-1)
    present_slots = {rule.slot for rule in staying}
    for index, rule in enumerate(wanted):
        if rule.slot not in present_slots and index < last_present:
            first_wrong = min(first_wrong, index)
            break
    for rule in staying:
        wanted_rule = wanted_by_slot[rule.slot]
        if order[rule.slot] >= first_wrong:
            plan.delete.append(rule)
            plan.moved.append(rule)
        elif rule != wanted_rule:
            plan.replace.append((rule, wanted_rule))
    for index, rule in enumerate(wanted):
        if rule.slot not in present_slots or index >= first_wrong:
            plan.add.append(rule)


def plan(
    present: Firewall,
    wanted_rules: list[Rule],
    defaults: dict[str, str],
    loglevel: str | None,
    managed: str,
    purge: bool = False,
) -> Plan:
    """The steps from PRESENT to the wanted policy; MANAGED is the comment prefix of our rules."""
    steps = Plan()
    wanted = unique(wanted_rules)
    for v6 in (False, True):
        _family(present.family(v6), [rule for rule in wanted if rule.v6 == v6], managed, purge, steps)
    for direction, policy in defaults.items():
        if present.defaults.get(direction) != policy:
            steps.defaults[direction] = (present.defaults.get(direction, "unset"), policy)
    if loglevel is not None and present.loglevel != loglevel:
        steps.loglevel = (present.loglevel, loglevel)
    steps.enable = not present.enabled
    return steps
