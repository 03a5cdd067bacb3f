# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The family C(ufw): every part of the ufw policy a control can want, judged from one read of ufw.

Spec kinds, one per control:

- C({rules: [RULE, ...], extras: BOOL, when_empty: REASON}): the rules, in order (see
  rules.from_spec for a RULE). The control with C(extras: true) also reports the managed rules no
  control wants (they are deleted) and, with O(purge), every other rule. C(when_empty): the
  control is skipped with that reason when it lists no rule (metadata protection without pod
  networks).
- C({defaults: {incoming|outgoing|routed: allow|deny|reject}}): ufw's default policies.
- C({logging: off|low|medium|high|full}).
- C({enabled: true}): ufw enabled (C(ENABLED=yes)) and C(ufw.service) enabled at boot.
- C({settings: {KEY: VALUE}}): keys of /etc/default/ufw that have no ufw command
  (C(MANAGE_BUILTINS), C(IPT_SYSCTL), C(IPV6), ...).
- C({before_rules: [LINE, ...]}): accept rules of ufw's before chains kept in a block of
  /etc/ufw/before.rules, for what ufw's rule syntax cannot name (IP-in-IP, see before.py); an
  empty list wants no block.
- C({listening: {ignore: ["PORT/PROTOCOL", ...]}}): every socket listening on an address other than
  loopback has a rule for its port (CIS 4.2.6); reported, never opened by this run.
- C({backend: true}): ufw's iptables is the backend (nft or legacy) that holds the rules of
  kube-proxy and the CNI, so both see one ruleset.

Every rule of every control is checked as ufw checks it, and the whole policy (all enabled
controls together) is turned into one plan (plan.py) before anything changes. When the plan
would leave ufw enabled, the controller's next SSH connection must be let in (guard.py), or the
run is refused with nothing changed. The changes are one action: the node's undo timer is armed
(rollback.py), then ufw's own commands make the difference.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import apply, backend, before, listening
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import plan as planning
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw import state as ufw_state
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.guard import verdict
from ansible_collections.nodeguard.hardening.plugins.module_utils._ufw.rules import ANY6, Rule, RuleError, from_spec

NAME = "ufw"
KINDS = ("rules", "defaults", "logging", "enabled", "settings", "before_rules", "listening", "backend")
RULE_KEYS = ("rules", "extras", "when_empty")
POLICY_WORDS = tuple(ufw_state.POLICIES)
# Keys of /etc/default/ufw a control may set; the policies have their own kind (ufw's commands).
SETTINGS = {
    "IPV6": ("yes", "no"),
    "MANAGE_BUILTINS": ("yes", "no"),
    "IPT_SYSCTL": None,
    "DEFAULT_APPLICATION_POLICY": ("ACCEPT", "DROP", "REJECT", "SKIP"),
    "IPT_MODULES": None,
}


@dataclass
class Options:
    """What the module's options say: C(prefix) marks the rules this collection made."""

    prefix: str = "nodeguard"
    purge: bool = False
    local: bool = False
    rollback_timeout: int = 120
    ssh_from: list[str] | None = None
    armed: list[bool] = field(default_factory=list)


@dataclass
class Wanted:
    """The policy of every enabled control together."""

    rules: list[tuple[str, Rule]] = field(default_factory=list)
    defaults: dict[str, str] = field(default_factory=dict)
    loglevel: str | None = None
    enabled: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    before: list[str] | None = None
    extras: str | None = None


def _kind(control: dict, spec: t.Any) -> str:
    if not isinstance(spec, dict) or not spec:
        raise c.ControlInputError(f"control {control['id']!r}: spec must be a mapping with one of {', '.join(KINDS)}")
    kinds = [key for key in spec if key in KINDS]
    extra = [key for key in spec if key not in KINDS and not (kinds == ["rules"] and key in RULE_KEYS)]
    if len(kinds) != 1 or extra:
        raise c.ControlInputError(
            f"control {control['id']!r}: spec must have exactly one of {', '.join(KINDS)}"
            + (f" (unknown keys: {', '.join(sorted(map(str, extra)))})" if extra else "")
        )
    return kinds[0]


def _rules(control: dict, spec: dict) -> dict:
    items = spec["rules"]
    if not isinstance(items, list):
        raise c.ControlInputError(f"control {control['id']!r}: spec.rules must be a list of rules")
    made: list[Rule] = []
    for number, item in enumerate(items, 1):
        made += from_spec(item, f"control {control['id']!r}: rule {number}")
    if not isinstance(spec.get("extras", False), bool):
        raise c.ControlInputError(f"control {control['id']!r}: spec.extras must be true or false")
    reason = spec.get("when_empty")
    if reason is not None and not isinstance(reason, str):
        raise c.ControlInputError(f"control {control['id']!r}: spec.when_empty must be a reason in words")
    return {"kind": "rules", "rules": made, "extras": spec.get("extras", False), "when_empty": reason}


def _defaults(control: dict, value: t.Any) -> dict:
    if not isinstance(value, dict) or not value or any(key not in ufw_state.POLICY_KEYS for key in value):
        raise c.ControlInputError(
            f"control {control['id']!r}: spec.defaults maps incoming, outgoing or routed to allow, deny or reject"
        )
    for direction, policy in value.items():
        if policy not in POLICY_WORDS:
            raise c.ControlInputError(
                f"control {control['id']!r}: default {direction} policy {policy!r} is not one of "
                f"{', '.join(POLICY_WORDS)}"
            )
    return {"kind": "defaults", "defaults": dict(value)}


def _settings(control: dict, value: t.Any) -> dict:
    if not isinstance(value, dict) or not value:
        raise c.ControlInputError(f"control {control['id']!r}: spec.settings maps keys of /etc/default/ufw to values")
    normal = {}
    for key, item in value.items():
        if key not in SETTINGS:
            raise c.ControlInputError(
                f"control {control['id']!r}: {key!r} is not a setting this module manages; known: "
                f"{', '.join(SETTINGS)} (the default policies have the defaults kind)"
            )
        text = "" if item is None else str(item)
        if isinstance(item, bool):
            text = "yes" if item else "no"
        choices = SETTINGS[key]
        if choices and text not in choices:
            raise c.ControlInputError(f"control {control['id']!r}: {key} must be one of {', '.join(choices)}")
        if any(ch in text for ch in "\"'\n$`\\"):
            raise c.ControlInputError(f"control {control['id']!r}: {key} has quotes, $, ` or a new line")
        normal[key] = text
    return {"kind": "settings", "settings": normal}


class Ufw(Family):
    name = NAME

    def __init__(self, options: Options) -> None:
        self.options = options

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        kind = _kind(control, spec)
        value = spec[kind]
        if kind == "rules":
            return _rules(control, spec)
        if kind == "defaults":
            checked = _defaults(control, value)
        elif kind == "logging":
            # YAML reads an unquoted off as false.
            value = "off" if value is False else value
            if value not in ufw_state.LOG_LEVELS:
                raise c.ControlInputError(
                    f"control {control['id']!r}: logging {value!r} is not one of {', '.join(ufw_state.LOG_LEVELS)}"
                )
            checked = {"kind": kind, "logging": value}
        elif kind == "settings":
            checked = _settings(control, value)
        elif kind == "listening":
            checked = {"kind": kind, "ignore": listening.check_ignore(control, value)}
        elif kind == "before_rules":
            checked = {"kind": kind, "lines": before.check_lines(control["id"], value)}
        else:
            if value is not True:
                raise c.ControlInputError(f"control {control['id']!r}: spec.{kind} must be true")
            checked = {"kind": kind}
        # Two controls wanting one setting two ways could never both pass.
        seen: dict[str, tuple[str, t.Any]] = node.cached("ufw:wanted", dict)
        for key, wanted in _claims(checked).items():
            other = seen.setdefault(key, (control["id"], wanted))
            if other[1] != wanted:
                raise c.ControlInputError(
                    f"control {control['id']!r}: {key} is wanted {wanted!r} here but {other[1]!r} by control "
                    f"{other[0]!r}; switch one of them off"
                )
        return checked

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        tool = node.binary("ufw")
        if tool is None:
            return {
                control["id"]: Finding(
                    expected="ufw installed",
                    differences=[c.difference("ufw", "dpkg", "installed", None)],
                    unfixable="ufw is not installed (the ufw package control installs it)",
                )
                for control, _spec in items
            }
        wanted = gather(items)
        connection = None
        if self.options.ssh_from is not None and not self.options.local:
            connection = apply.controller_connection(node)
            wanted.rules[0:0] = [(wanted.extras, rule) for rule in self.ssh_rules(connection.port)]
        texts = {path: node.read(path) for path in apply.FILES}
        try:
            present = ufw_state.read(texts)
        except ufw_state.StateError as error:
            raise c.ControlInputError(f"cannot read ufw's state: {error}") from None
        if wanted.settings.get("IPV6", "yes" if present.ipv6 else "no") != "yes":
            wanted.rules = ipv4_only(wanted.rules)
        try:
            steps = planning.plan(
                present,
                [rule for _cid, rule in wanted.rules],
                wanted.defaults,
                wanted.loglevel,
                self.options.prefix,
                self.options.purge,
            )
        except RuleError as error:
            raise c.ControlInputError(str(error)) from None
        steps.enable = wanted.enabled and not present.enabled
        settings = apply.settings_differences(texts.get(ufw_state.DEFAULTS) or "", wanted.settings)
        accept = [] if wanted.before is None else before.differences(texts.get(before.PATH), wanted.before)
        service = apply.service_enabled(node) if wanted.enabled else True
        final = apply.final_rules(present, steps)
        change = apply.Change(
            node=node,
            tool=tool,
            present=present,
            steps=steps,
            settings=settings,
            before=before.wanted_text(texts.get(before.PATH) or "", wanted.before) if accept else None,
            enable_service=not service,
            texts=texts,
            timeout=self.options.rollback_timeout,
            armed=self.options.armed,
        )
        if change.needed and (present.enabled or wanted.enabled):
            self._guard(node, final, {**present.defaults, **wanted.defaults}, connection)
        action = change.action() if change.needed else None
        findings = {}
        for control, spec in items:
            findings[control["id"]] = self._finding(
                node, control, spec, wanted, present, steps, settings + accept, service, final
            )
            finding = findings[control["id"]]
            if finding.differences and action is not None and not finding.kept and not finding.unfixable:
                finding.actions.append(action)
        return findings

    def ssh_rules(self, port: int) -> list[Rule]:
        """The rules that keep the controller's SSH port open to C(ssh_from), whatever port sshd uses."""
        made: list[Rule] = []
        for source in self.options.ssh_from or []:
            spec = {"port": port, "protocol": "tcp", "from": source, "comment": f"{self.options.prefix}: ssh"}
            made += from_spec(spec, f"the SSH rule for port {port}")
        return made

    def _guard(self, node: Node, final: list[Rule], defaults: dict[str, str], connection=None) -> None:
        if self.options.local:
            return
        connection = connection or apply.controller_connection(node)
        admitted, why = verdict(final, defaults.get("incoming", "deny"), connection)
        if not admitted:
            raise c.ControlInputError(
                f"refused, nothing was changed: the policy would cut off the controller: {why}. The SSH port and "
                "source Ansible uses must be allowed"
            )

    def _finding(self, node, control, spec, wanted, present, steps, settings, service, final) -> Finding:
        kind = spec["kind"]
        if kind == "rules":
            return rules_finding(control["id"], spec, wanted, present, steps)
        if kind == "defaults":
            differences = [
                c.difference(f"default {direction} policy", ufw_state.DEFAULTS, policy, present.defaults.get(direction))
                for direction, policy in spec["defaults"].items()
                if present.defaults.get(direction) != policy
            ]
            return Finding(expected=spec["defaults"], actual=present.defaults, differences=differences)
        if kind == "logging":
            differences = []
            if present.loglevel != spec["logging"]:
                differences.append(c.difference("LOGLEVEL", ufw_state.CONF, spec["logging"], present.loglevel))
            return Finding(expected=spec["logging"], actual=present.loglevel, differences=differences)
        if kind == "enabled":
            differences = []
            if not present.enabled:
                differences.append(c.difference("ENABLED", ufw_state.CONF, "yes", "no"))
            if not service:
                differences.append(c.difference(apply.SERVICE, "systemctl is-enabled", "enabled", "disabled"))
            return Finding(
                expected={"ENABLED": "yes", apply.SERVICE: "enabled"},
                actual={"ENABLED": "yes" if present.enabled else "no", apply.SERVICE: service},
                differences=differences,
            )
        if kind == "settings":
            mine = [item for item in settings if item["item"] in spec["settings"]]
            return Finding(expected=spec["settings"], differences=mine)
        if kind == "before_rules":
            mine = [item for item in settings if item["where"] == before.PATH]
            return Finding(expected=spec["lines"], differences=mine)
        if kind == "listening":
            return listening.finding(node, final, spec["ignore"])
        return backend.finding(node)


def _claims(checked: dict) -> dict[str, t.Any]:
    kind = checked["kind"]
    if kind == "defaults":
        return {f"default {key} policy": value for key, value in checked["defaults"].items()}
    if kind == "logging":
        return {"LOGLEVEL": checked["logging"]}
    if kind == "settings":
        return dict(checked["settings"])
    if kind == "before_rules":
        return {"the accept rules of before.rules": checked["lines"]}
    return {}


def gather(items: list[tuple[dict, t.Any]]) -> Wanted:
    wanted = Wanted()
    for control, spec in items:
        kind = spec["kind"]
        if kind == "rules":
            wanted.rules += [(control["id"], rule) for rule in spec["rules"]]
            if spec["extras"] and wanted.extras is None:
                wanted.extras = control["id"]
        elif kind == "defaults":
            wanted.defaults.update(spec["defaults"])
        elif kind == "logging":
            wanted.loglevel = spec["logging"]
        elif kind == "enabled":
            wanted.enabled = True
        elif kind == "settings":
            wanted.settings.update(spec["settings"])
        elif kind == "before_rules":
            wanted.before = spec["lines"]
    if wanted.extras is None:
        rule_controls = [control["id"] for control, spec in items if spec["kind"] == "rules"]
        wanted.extras = rule_controls[-1] if rule_controls else None
    return wanted


def ipv4_only(rules: list[tuple[str, Rule]]) -> list[tuple[str, Rule]]:
    """The rules ufw keeps with IPV6=no: the IPv4 halves; a rule that names an IPv6 address is an error."""
    for cid, rule in rules:
        if rule.v6 and (rule.src != ANY6 or rule.dst != ANY6):
            raise c.ControlInputError(
                f"control {cid!r}: {rule.describe()} names an IPv6 address while ufw's IPv6 support is off "
                "(IPV6=no in /etc/default/ufw)"
            )
    return [(cid, rule) for cid, rule in rules if not rule.v6]


def _where(rule: Rule) -> str:
    return ufw_state.RULES6 if rule.v6 else ufw_state.RULES4


def rules_finding(cid: str, spec: dict, wanted: Wanted, present: ufw_state.Firewall, steps: planning.Plan) -> Finding:
    """The differences of one rules control: its missing, changed and out-of-order rules, and for
    the control that takes extras, the rules nobody wants."""
    mine = {rule.slot for owner, rule in wanted.rules if owner == cid}
    expected = [rule.describe() for rule in spec["rules"]]
    actual = [rule.describe() for rule in present.rules if rule.slot in mine]
    if not spec["rules"] and spec["when_empty"]:
        return Finding(expected=[], actual=actual, skipped=spec["when_empty"])
    differences = []
    moved = {rule.slot for rule in steps.moved}
    for old, new in steps.replace:
        if new.slot in mine:
            differences.append(
                c.difference(f"rule {new.describe(comment=False)}", _where(new), new.describe(), old.describe())
            )
    for rule in steps.add:
        if rule.slot in mine:
            if rule.slot in moved:
                differences.append(
                    c.difference(f"rule {rule.describe()}", _where(rule), "in the wanted order", "out of order")
                )
            else:
                differences.append(c.difference(f"rule {rule.describe()}", _where(rule), "present", None))
    details: dict[str, t.Any] = {}
    if cid == wanted.extras:
        for rule in steps.delete:
            if rule.slot not in moved:
                differences.append(c.difference(f"rule {rule.describe()}", _where(rule), None, "present"))
        if steps.kept:
            details["kept_rules"] = [rule.describe() for rule in steps.kept]
            details["kept_reason"] = "rules this collection did not make are kept unless purge is asked for"
    return Finding(expected=expected, actual=actual, differences=differences, details=details)


def build(options: Options) -> list[Family]:
    return [Ufw(options)]
