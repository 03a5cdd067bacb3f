# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The difference between the ufw policy a user wants and the one ufw has, as the steps that close it.

Rules are compared per IP version, in order, since ufw stops at the first rule that matches:
- a wanted rule ufw lacks is inserted before the next wanted rule ufw has, or added at the end;
- where two rules ufw has are the wrong way round, the managed rules from the first misplaced one
  on are deleted and added again in the wanted order (over both IP versions at once, since one
  ufw command deletes both halves of a rule from anywhere);
- a rule in a wanted rule's slot (same ports, protocol, addresses, interfaces) with another
  action, log type or comment is replaced in place, as ufw does when that rule is added;
- a managed rule (its comment starts with the prefix) that is no longer wanted is deleted;
  any other rule is kept and reported, and deleted only when the user asks to purge.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import Rule, RuleError, twin
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
    # Missing rules inserted before a rule that stays (by slot), rather than added at the end.
    anchors: dict[tuple, Rule] = field(default_factory=dict)

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


def _first_wrong(present: list[Rule], wanted: list[Rule]) -> int:
    """The first index of WANTED (one IP version) from which ufw's order is not the wanted one: two
    present rules the wrong way round. (A missing rule is inserted where it belongs.)"""
    order = {rule.slot: index for index, rule in enumerate(wanted)}
    present_indexes = [order[rule.slot] for rule in present if rule.slot in order]
    first_wrong = len(wanted)
    for position in range(1, len(present_indexes)):
        if present_indexes[position] < present_indexes[position - 1]:
            first_wrong = min(first_wrong, *present_indexes[position:])
    return first_wrong


def twins(first: Rule, second: Rule) -> bool:
    """Whether one ufw command adds or deletes both rules: the IPv4 and IPv6 halves of a rule
    whose addresses are both "any"."""
    return twin(first) == second


def _threshold(present: Firewall, wanted: list[Rule]) -> int:
    """The first index of the whole wanted list from which rules are deleted and added again.

    Deleting one half of a rule for both IP versions deletes the other half too, so the point is
    found over both versions at once, and never falls between two such halves."""
    position = {rule.slot: index for index, rule in enumerate(wanted)}
    threshold = len(wanted)
    for v6 in (False, True):
        family = [rule for rule in wanted if rule.v6 == v6]
        wrong = _first_wrong(present.family(v6), family)
        if wrong < len(family):
            threshold = min(threshold, position[family[wrong].slot])
    if 0 < threshold < len(wanted) and twins(wanted[threshold - 1], wanted[threshold]):
        threshold -= 1
    return threshold


def _family(
    present: list[Rule], wanted: list[Rule], position: dict, threshold: int, managed: str, purge: bool, plan: Plan
) -> None:
    wanted_by_slot = {rule.slot: rule for rule in wanted}
    staying: list[Rule] = []
    for rule in present:
        if rule.slot in wanted_by_slot:
            staying.append(rule)
        elif rule.comment.startswith(managed) or purge:
            plan.delete.append(rule)
        else:
            plan.kept.append(rule)
    present_slots = {rule.slot for rule in staying}
    for rule in staying:
        wanted_rule = wanted_by_slot[rule.slot]
        if position[rule.slot] >= threshold:
            plan.delete.append(rule)
            plan.moved.append(rule)
        elif rule != wanted_rule:
            plan.replace.append((rule, wanted_rule))
    # A missing rule goes in before the next wanted rule that stays where it is; after the last
    # one it is added at the end, as are the rules deleted to be added again in order.
    anchor = None
    for rule in reversed(wanted):
        if rule.slot in present_slots and position[rule.slot] < threshold:
            anchor = rule
        elif rule.slot not in present_slots or position[rule.slot] >= threshold:
            plan.add.append(rule)
            if anchor is not None and rule.slot not in present_slots:
                plan.anchors[rule.slot] = anchor


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
    position = {rule.slot: index for index, rule in enumerate(wanted)}
    threshold = _threshold(present, wanted)
    for v6 in (False, True):
        family = [rule for rule in wanted if rule.v6 == v6]
        _family(present.family(v6), family, position, threshold, managed, purge, steps)
    # One ufw command adds a rule for both IP versions; adding in the order of the wanted list
    # (not all IPv4 rules, then all IPv6 ones) keeps each version's rules in the wanted order.
    steps.add.sort(key=lambda rule: position[rule.slot])
    for direction, policy in defaults.items():
        if present.defaults.get(direction) != policy:
            steps.defaults[direction] = (present.defaults.get(direction, "unset"), policy)
    if loglevel is not None and present.loglevel != loglevel:
        steps.loglevel = (present.loglevel, loglevel)
    steps.enable = not present.enabled
    return steps
