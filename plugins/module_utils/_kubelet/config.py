# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The kubelet's settings (CIS Kubernetes 4.2), written into its KubeletConfiguration file.

Specs: C({settings: {KEY: VALUE, ...}, when_absent: false}) wants each key written in the file
with that value (C(when_absent): any value already written passes, the given one is written only
where the key is absent); C({flag_absent: NAME, remove: false}) wants no C(--NAME) flag on the
kubelet's command line (only reported unless C(remove)).

A key absent from the file counts as not set, whatever the kubelet's built-in default. A flag on
the command line beats the file: a flag that gives a managed key another value is reported with
the file and line that set it, and removed only when the module is asked to. Every managed key of
every control goes into one new version of the file, written with one restart of the kubelet,
which must then answer on its healthz endpoint (restart.py).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import file_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import bench, restart, unit, yamldoc
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.discovery import (
    Kubelet,
    KubeletInputError,
    load_config,
    read_kubelet,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet.settings import (
    SETTINGS,
    flag_value,
    get,
    same,
    type_error,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._sysctl import read_live
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

# The kernel settings a kubelet with protectKernelDefaults needs; it refuses to start where one differs.
KERNEL_DEFAULTS = {
    "vm.overcommit_memory": "1",
    "vm.panic_on_oom": "0",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "kernel.keys.root_maxkeys": "1000000",
    "kernel.keys.root_maxbytes": "25000000",
}
NEW_FILE = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"
USAGE = (
    "spec must be {settings: {KEY: VALUE, ...}, when_absent: false} or {flag_absent: NAME, remove: false}; "
    f"managed keys: {', '.join(sorted(SETTINGS))}"
)


@dataclass(frozen=True)
class Options:
    """What the module is told about the kubelet: its unit, and what it may do."""

    service: str = "kubelet.service"
    config_path: str | None = None
    remove_overriding_flags: bool = False
    restart_timeout: int = restart.DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Spec:
    settings: tuple[tuple[str, t.Any], ...] = ()
    when_absent: bool = False
    flag: str = ""
    remove: bool = False


class KubeletConfig(Family):
    name = "kubelet_config"

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()

    def validate(self, node: Node, control: dict, spec: t.Any) -> Spec:
        cid = control["id"]
        if not isinstance(spec, dict) or ("settings" in spec) == ("flag_absent" in spec):
            raise c.ControlInputError(f"control {cid!r}: {USAGE}")
        allowed = {"settings", "when_absent"} if "settings" in spec else {"flag_absent", "remove"}
        unknown = sorted(set(spec) - allowed)
        if unknown:
            raise c.ControlInputError(f"control {cid!r}: unknown spec keys {', '.join(unknown)}; {USAGE}")
        if "flag_absent" in spec:
            name, remove = spec["flag_absent"], spec.get("remove", False)
            if not isinstance(name, str) or not name or name.startswith("-"):
                raise c.ControlInputError(f"control {cid!r}: flag_absent names a flag without dashes, got {name!r}")
            if not isinstance(remove, bool):
                raise c.ControlInputError(f"control {cid!r}: remove must be true or false")
            return Spec(flag=name, remove=remove)
        settings, when_absent = spec["settings"], spec.get("when_absent", False)
        if not isinstance(settings, dict) or not settings:
            raise c.ControlInputError(f"control {cid!r}: settings must map managed keys to values; {USAGE}")
        if not isinstance(when_absent, bool):
            raise c.ControlInputError(f"control {cid!r}: when_absent must be true or false")
        for key, value in settings.items():
            if key not in SETTINGS:
                raise c.ControlInputError(f"control {cid!r}: {key!r} is not a managed key; {USAGE}")
            problem = type_error(SETTINGS[key], value)
            if problem:
                raise c.ControlInputError(f"control {cid!r}: {key} {problem}, got {value!r}")
        return Spec(settings=tuple(settings.items()), when_absent=when_absent)

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        kubelet = read_kubelet(node, self.options.service, self.options.config_path)
        if not kubelet.installed:
            reason = f"{self.options.service} is not installed on this node"
            return {control["id"]: Finding(skipped=reason) for control, _unused in items}
        data = kubelet.config_data if isinstance(kubelet.config_data, dict) else {}
        plan = _Plan()
        found: dict[str, Finding] = {}
        for control, spec in items:
            finding = Finding(details=bench.verdicts(node, kubelet, control))
            found[control["id"]] = finding
            if spec.flag:
                self._flag(kubelet, spec, finding, plan)
            else:
                self._settings(node, kubelet, data, spec, finding, plan)
        if plan.changes or plan.removals:
            action = self._action(node, kubelet, plan)
            for finding in found.values():
                if finding.differences and not finding.unfixable:
                    finding.actions.append(action)
        return found

    # -- reading ---------------------------------------------------------------------------------

    def _settings(self, node: Node, kubelet: Kubelet, data: dict, spec: Spec, finding: Finding, plan: _Plan) -> None:
        path = kubelet.config_path
        finding.expected = dict(spec.settings)
        finding.actual = {}
        if not path:
            finding.differences.append(c.difference("--config", f"{kubelet.service} command line", "a file", None))
            finding.unfixable = (
                f"{kubelet.service} runs without --config, so there is no configuration file to write; "
                "give the kubelet one (kubelet_config_path names it)"
            )
            return
        # This control's changes join the run's only if none of them is unfixable: writing a
        # certificate path that does not exist, or protectKernelDefaults before the kernel
        # settings it needs, would leave the kubelet unable to start.
        own = _Plan()
        for key, want in spec.settings:
            setting = SETTINGS[key]
            present, have = get(data, setting.path)
            finding.actual[key] = have if present else None
            target = have if spec.when_absent and present else want
            if not (spec.when_absent and present) and not (present and same(have, want)):
                finding.differences.append(c.difference(key, path, want, have if present else None))
                own.changes[setting.path] = want
                if setting.kind == "path" and not node.exists(want):
                    finding.unfixable = f"{want} does not exist on the node; the kubelet would not start without it"
            self._overriding_flag(kubelet, setting, target, finding, own)
            if key == "protectKernelDefaults" and target is True:
                self._kernel_defaults(node, finding)
        if finding.unfixable:
            return
        for key_path, want in own.changes.items():
            if key_path in plan.changes and not same(plan.changes[key_path], want):
                raise c.ControlInputError(
                    f"{'.'.join(key_path)} is wanted as {plan.changes[key_path]!r} and as {want!r} by two "
                    "controls; give it one value"
                )
            plan.changes[key_path] = want
        plan.removals += [flag for flag in own.removals if flag not in plan.removals]

    @staticmethod
    def _kernel_defaults(node: Node, finding: Finding) -> None:
        """protectKernelDefaults makes the kubelet exit where a kernel setting it needs differs."""
        for name, want in KERNEL_DEFAULTS.items():
            have = read_live(node.paths, name)
            if have != want:
                finding.differences.append(c.difference(name, "live", want, have))
                finding.unfixable = (
                    "the kubelet with protectKernelDefaults refuses to start while these kernel settings differ; "
                    "the kernel role sets them (run it first)"
                )

    def _overriding_flag(self, kubelet: Kubelet, setting: t.Any, target: t.Any, finding: Finding, plan: _Plan) -> None:
        if not setting.flag:
            return
        flag = kubelet.flag(setting.flag)
        if flag is None:
            return
        value = flag_value(setting, flag.value)
        if value is None:
            return
        if same(value, target):
            finding.details.setdefault("also set by flags", []).append(f"--{flag.name}={flag.value} ({flag.source})")
            return
        finding.differences.append(c.difference(f"--{flag.name}", str(flag.source), None, flag.value))
        self._remove(
            kubelet, flag, self.options.remove_overriding_flags, finding, plan, "kubelet_remove_overriding_flags"
        )

    def _flag(self, kubelet: Kubelet, spec: Spec, finding: Finding, plan: _Plan) -> None:
        finding.expected = f"no --{spec.flag}"
        flag = kubelet.flag(spec.flag)
        finding.actual = f"--{flag.name}={flag.value}" if flag else None
        if flag is None:
            return
        finding.differences.append(c.difference(f"--{spec.flag}", str(flag.source), None, flag.value))
        self._remove(kubelet, flag, spec.remove, finding, plan, "the control's remove")

    @staticmethod
    def _remove(kubelet: Kubelet, flag: unit.Flag, asked: bool, finding: Finding, plan: _Plan, how: str) -> None:
        if not asked:
            finding.kept = f"--{flag.name} is left on the command line ({flag.source}); {how} removes it"
            return
        source = flag.source
        package_file = source.kind != "EnvironmentFile" and not source.path.startswith("/etc/")
        if package_file:
            finding.unfixable = (
                f"--{flag.name} is written in {source}, a file of the package that an upgrade restores; override "
                f"it in a drop-in under /etc/systemd/system/{kubelet.service}.d/"
            )
            return
        if flag not in plan.removals:
            plan.removals.append(flag)

    # -- changing --------------------------------------------------------------------------------

    def _action(self, node: Node, kubelet: Kubelet, plan: _Plan) -> Action:
        files: dict[str, str] = {}
        path = kubelet.config_path
        if plan.changes and path:
            before = kubelet.config_text if kubelet.config_text is not None else NEW_FILE
            try:
                files[path] = yamldoc.set_values(before, plan.changes)
            except yamldoc.YamlError as exc:
                raise KubeletInputError(f"{path} cannot be changed in place: {exc}; nothing was changed") from exc
            load_config(path, files[path])
        texts: dict[str, str] = {}
        for flag in plan.removals:
            current = texts.get(flag.source.path, node.read(flag.source.path))
            if current is None:
                raise KubeletInputError(f"{flag.source.path} is gone; read the node again")
            try:
                texts[flag.source.path] = unit.remove_words(current, flag.source, flag.words)
            except unit.UnitError as exc:
                raise KubeletInputError(str(exc)) from exc
        files.update(texts)
        removed = {(f.name, f.source) for f in plan.removals}
        flags = {f.name: f.value for f in kubelet.flags if (f.name, f.source) not in removed}
        new_data = load_config(path, files[path]) if path in files else kubelet.config_data
        change = restart.Change(
            node,
            kubelet.service,
            files=files,
            units_changed=any(p in kubelet.unit_files for p in files),
            restart=kubelet.active,
            healthz=lambda: restart.healthz_url(new_data, flags),
            timeout=self.options.restart_timeout,
        )
        what = f"write {', '.join(files)}" + (
            f" and restart {kubelet.service}, waiting for its healthz endpoint"
            if kubelet.active
            else f" ({kubelet.service} is not running and is not started)"
        )
        diff = [file_diff(p, node.read(p), text) for p, text in files.items()]
        return Action("kubelet:apply", what, change.run, change.undo, diff)


class _Plan:
    """Every control's changes, gathered into one write and one restart."""

    def __init__(self) -> None:
        self.changes: dict[tuple[str, ...], t.Any] = {}
        self.removals: list[unit.Flag] = []
