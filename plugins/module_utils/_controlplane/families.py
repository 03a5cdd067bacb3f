# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The families of control plane controls, in the order a run needs them.

- C(controlplane_account) ({user, group, home}): a system account that must exist (etcd's data
  directory is owned by etcd:etcd, CIS 1.1.12), created with useradd.
- C(controlplane_config) (as managed_file, content kind): files the components read (the audit
  policy, the authentication configuration), whole and root-owned.
- C(controlplane_encryption) ({path, provider, resources, mode}): the API server's
  EncryptionConfiguration. Where it is missing, or names no strong provider first for a resource,
  it is written with the provider first (a new random key, made on the node and never shown) and
  the providers it had after it, so what was stored before stays readable.
- C(controlplane_flags) ({component, set, present, absent, absent_if, includes, excludes, at_least,
  mounts}): flags of one component's static pod (C(set) a value, C(present) any value or this one,
  C(absent) none, C(absent_if) none where the flag has this value, C(includes)/C(excludes) items of
  a list flag, C(at_least) a number), all of one component's controls in one edit of its
  manifest (manifest.py), with the volumes its files need, validated before anything is written,
  and applied with a health check and roll back (static_pod.py).
- C(controlplane_files) (as file_attributes, plus C(only_if_exists)): modes and owners.
- C(controlplane_manifests) ({}): nothing but Pods in the manifests directory, each name once;
  other files (backups, copies) are moved to the backup directory.

Files the first three write in a run are files the flags may name: in check mode they are not
there yet, so the flags family is told of them.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import typing as t
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import flagtypes, static_pod
from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane.manifest import (
    MOUNT_TYPES,
    Manifest,
    ManifestError,
    Mount,
    edit,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write, state_diff
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import yamldoc
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.file_attributes import FileAttributes
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.managed_file import (
    ManagedFile,
    check_path,
    parse_mode,
)
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
ACCOUNT_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
STRONG_PROVIDERS = ("aescbc", "secretbox", "kms")
KEY_BYTES = {"aescbc": 32, "secretbox": 32}
FLAG_KEYS = ("component", "set", "present", "absent", "absent_if", "includes", "excludes", "at_least", "mounts")


@dataclass
class Context:
    """What the families of one run share."""

    options: static_pod.Options = field(default_factory=static_pod.Options)
    planned: set[str] = field(default_factory=set)

    def manifest_path(self, component: str) -> str:
        return os.path.join(self.options.manifests_dir, f"{component}.yaml")


# --- accounts ----------------------------------------------------------------------------------------
class Account(Family):
    name = "controlplane_account"

    def __init__(self, context: Context) -> None:
        self.context = context

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        cid = control["id"]
        if not isinstance(spec, dict) or set(spec) - {"user", "group", "home", "only_if_exists"}:
            raise c.ControlInputError(f"control {cid!r}: spec must be {{user, group, home, only_if_exists}}")
        for key in ("user", "group"):
            if not isinstance(spec.get(key), str) or not ACCOUNT_RE.match(spec[key]):
                raise c.ControlInputError(f"control {cid!r}: {key} must be a system account name")
        home = check_path(cid, spec.get("home", "/nonexistent"), "home")
        only = spec.get("only_if_exists")
        return {**spec, "home": home, "only_if_exists": check_path(cid, only, "only_if_exists") if only else None}

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        users = _names(node.read("/etc/passwd"))
        groups = _names(node.read("/etc/group"))
        found = {}
        for control, spec in items:
            if spec["only_if_exists"] and not node.exists(spec["only_if_exists"]):
                found[control["id"]] = Finding(skipped=f"{spec['only_if_exists']} is absent: not a control plane node")
                continue
            finding = Finding(expected={"user": spec["user"], "group": spec["group"]})
            finding.actual = {
                "user": spec["user"] if spec["user"] in users else None,
                "group": spec["group"] if spec["group"] in groups else None,
            }
            if spec["group"] not in groups:
                finding.differences.append(c.difference(spec["group"], "/etc/group", "present", None))
                finding.actions.append(
                    _command_action(node, ["groupadd", "--system", spec["group"]], ["groupdel", spec["group"]])
                )
            if spec["user"] not in users:
                finding.differences.append(c.difference(spec["user"], "/etc/passwd", "present", None))
                argv = ["useradd", "--system", "--gid", spec["group"], "--home-dir", spec["home"], "--no-create-home"]
                argv += ["--shell", "/usr/sbin/nologin", "--comment", f"{spec['user']} (control plane)", spec["user"]]
                finding.actions.append(_command_action(node, argv, ["userdel", spec["user"]]))
            found[control["id"]] = finding
        return found


def _names(text: str | None) -> set[str]:
    return {line.split(":", 1)[0] for line in (text or "").splitlines() if ":" in line}


def _command_action(node: Node, argv: list[str], undo: list[str]) -> Action:
    return Action(
        f"command:{' '.join(argv)}",
        " ".join(argv),
        lambda: node.run(argv),
        lambda: node.run(undo, check=False),
        [state_diff(f"account {argv[-1]}", "absent\n", "present\n")],
    )


# --- configuration files -------------------------------------------------------------------------
class Config(ManagedFile):
    name = "controlplane_config"

    def __init__(self, context: Context) -> None:
        self.context = context

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found = super().inspect(node, items)
        for control, spec in items:
            if found[control["id"]].actions:
                self.context.planned.add(spec.path)
        return found


class Encryption(Family):
    name = "controlplane_encryption"

    def __init__(self, context: Context) -> None:
        self.context = context

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        cid = control["id"]
        if not isinstance(spec, dict) or set(spec) - {"path", "provider", "resources", "mode", "only_if_exists"}:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be {{path, provider, resources, mode, only_if_exists}}"
            )
        if spec.get("provider") not in KEY_BYTES:
            raise c.ControlInputError(
                f"control {cid!r}: provider must be one of {', '.join(KEY_BYTES)} "
                "(kms needs a plugin this run cannot set up)"
            )
        resources = spec.get("resources") or ["secrets"]
        if not isinstance(resources, list) or not all(
            isinstance(r, str) and re.match(r"^[a-z0-9.*-]+$", r) for r in resources
        ):
            raise c.ControlInputError(f"control {cid!r}: resources must be a list of resource names such as secrets")
        only = spec.get("only_if_exists")
        return {
            "path": check_path(cid, spec.get("path")),
            "provider": spec["provider"],
            "resources": resources,
            "mode": parse_mode(cid, spec.get("mode"), 0o600),
            "only_if_exists": check_path(cid, only, "only_if_exists") if only else None,
        }

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found = {}
        for control, spec in items:
            if spec["only_if_exists"] and not node.exists(spec["only_if_exists"]):
                found[control["id"]] = Finding(skipped=f"{spec['only_if_exists']} is absent: not a control plane node")
                continue
            found[control["id"]] = self._inspect(node, spec)
        return found

    def _inspect(self, node: Node, spec: dict) -> Finding:
        path = spec["path"]
        text = node.read(path)
        finding = Finding(
            expected={"first provider": f"one of {', '.join(STRONG_PROVIDERS)}", "mode": f"{spec['mode']:04o}"}
        )
        groups: list = []
        if text is None:
            finding.actual = None
            finding.differences.append(c.difference(path, "file", "present", None))
        else:
            try:
                data = yamldoc.load(text)
            except yamldoc.YamlError as error:
                data = error
            if not isinstance(data, dict) or data.get("kind") != "EncryptionConfiguration":
                # It holds keys: a person decides what becomes of it.
                why = f"not read: {data}" if isinstance(data, yamldoc.YamlError) else "not an EncryptionConfiguration"
                finding.actual = None
                finding.differences.append(c.difference(path, "file", "an EncryptionConfiguration", why))
                finding.unfixable = f"{path} holds keys this run does not rewrite; fix or move it by hand"
                return finding
            groups = data.get("resources") or []
            first = _first_providers(groups, spec["resources"])
            finding.actual = {"first provider": first}
            for resource, provider in first.items():
                if provider not in STRONG_PROVIDERS:
                    finding.differences.append(
                        c.difference(resource, path, f"one of {', '.join(STRONG_PROVIDERS)}", provider)
                    )
            info = os.stat(node.path(path))
            if info.st_mode & 0o777 & ~spec["mode"] or info.st_uid != 0:
                finding.differences.append(
                    c.difference(
                        path,
                        "mode and owner",
                        f"{spec['mode']:04o} root",
                        f"{info.st_mode & 0o777:04o} uid {info.st_uid}",
                    )
                )
        if finding.differences:
            self.context.planned.add(path)
            finding.actions.append(self._write(node, spec, text, groups, finding))
        return finding

    def _write(self, node: Node, spec: dict, before: str | None, groups: list, finding: Finding) -> Action:
        path, provider = spec["path"], spec["provider"]
        strong = not any(d["where"] == path for d in finding.differences) and before is not None
        target = node.path(path)

        def run() -> None:
            if strong:  # only the mode or owner differ: keep the keys
                os.chown(target, 0, 0)
                os.chmod(target, spec["mode"])
                return
            secret = base64.b64encode(os.urandom(KEY_BYTES[provider])).decode()
            atomic_write(
                node.module, target, render_encryption(groups, spec["resources"], provider, secret), spec["mode"]
            )

        def undo() -> None:
            if before is None:
                os.unlink(target)
            else:
                atomic_write(node.module, target, before, spec["mode"])

        what = f"set {path} to {spec['mode']:04o} root" if strong else f"write {path} with {provider} first (a new key)"
        shown_before = "absent\n" if before is None else "first providers: " + str(finding.actual) + "\n"
        return Action(
            f"encryption:{path}",
            what,
            run,
            undo,
            [state_diff(path, shown_before, f"{provider} first, key not shown\n")],
        )


def _first_providers(groups: list, resources: list[str]) -> dict[str, str | None]:
    first: dict[str, str | None] = {}
    for resource in resources:
        first[resource] = None
        for group in groups:
            if isinstance(group, dict) and resource in (group.get("resources") or []):
                providers = group.get("providers") or []
                if providers and isinstance(providers[0], dict) and providers[0]:
                    first[resource] = next(iter(providers[0]))
                break
    return first


def render_encryption(groups: list, resources: list[str], provider: str, secret: str) -> str:
    """An EncryptionConfiguration: the wanted resources with C(provider) first, then what they had."""
    kept: list = []
    for group in groups:
        if isinstance(group, dict) and set(group.get("resources") or []) & set(resources):
            kept.extend(p for p in group.get("providers") or [] if p not in kept)
    if not any(isinstance(p, dict) and "identity" in p for p in kept):
        kept.append({"identity": {}})
    others = [g for g in groups if not (isinstance(g, dict) and set(g.get("resources") or []) & set(resources))]
    # The other resources first: kube-bench (1.2.28) judges the line after the file's last "providers:".
    lines = [
        "# Written by nodeguard.hardening: the first provider encrypts, the others still decrypt what",
        "# was stored before. Keep this file 0600 and back its keys up.",
        "apiVersion: apiserver.config.k8s.io/v1",
        "kind: EncryptionConfiguration",
        "resources:",
        *["  - " + _flow(group) for group in others],
        "  - resources:",
        *[f"      - {yamldoc.render_scalar(r)}" for r in resources],
        "    providers:",
        f"      - {provider}:",
        "          keys:",
        "            - name: nodeguard-" + _key_name(kept, provider),
        f"              secret: {secret}",
    ]
    for item in kept:
        lines += _flow_item(item, "      ")
    return "\n".join(lines) + "\n"


def _key_name(kept: list, provider: str) -> str:
    used = {
        key.get("name")
        for item in kept
        if isinstance(item, dict)
        for key in ((item.get(provider) or {}).get("keys") or [])
        if isinstance(key, dict)
    }
    number = 1
    while f"nodeguard-{number}" in used:
        number += 1
    return str(number)


def _flow(value: t.Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{yamldoc.render_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return yamldoc.render_scalar(value)


def _flow_item(item: t.Any, indent: str) -> list[str]:
    return [f"{indent}- {_flow(item)}"]


# --- flags ---------------------------------------------------------------------------------------
@dataclass
class FlagSpec:
    component: str
    set: dict[str, str]
    present: dict[str, str]
    absent: list[str]
    absent_if: dict[str, str]
    includes: dict[str, list[str]]
    excludes: dict[str, list[str]]
    at_least: dict[str, int]
    mounts: list[Mount]


class Flags(Family):
    name = "controlplane_flags"

    def __init__(self, context: Context) -> None:
        self.context = context

    def validate(self, node: Node, control: dict, spec: t.Any) -> FlagSpec:
        cid = control["id"]
        if not isinstance(spec, dict) or set(spec) - set(FLAG_KEYS) or "component" not in spec:
            raise c.ControlInputError(
                f"control {cid!r}: spec must be a mapping with component and any of {', '.join(FLAG_KEYS[1:])}"
            )
        component = spec["component"]
        if component not in flagtypes.COMPONENTS:
            raise c.ControlInputError(
                f"control {cid!r}: unknown component {component!r}; known: {', '.join(flagtypes.COMPONENTS)}"
            )
        try:
            values = {f: flagtypes.check_value(component, f, v) for f, v in _mapping(cid, spec, "set").items()}
            present = {f: flagtypes.check_value(component, f, v) for f, v in _mapping(cid, spec, "present").items()}
            absent = _names_list(cid, spec, "absent")
            for flag in absent:
                flagtypes.kind(component, flag)
            absent_if = {f: flagtypes.check_value(component, f, v) for f, v in _mapping(cid, spec, "absent_if").items()}
            lists = {}
            for key in ("includes", "excludes"):
                lists[key] = {}
                for flag, given in _mapping(cid, spec, key).items():
                    if flagtypes.kind(component, flag) not in flagtypes.LIST_KINDS:
                        raise flagtypes.FlagError(f"--{flag} of {component} is not a list flag; use set")
                    items = [str(item) for item in (given if isinstance(given, list) else [given])]
                    flagtypes.check_value(component, flag, ",".join(items))
                    lists[key][flag] = items
            at_least = {}
            for flag, number in _mapping(cid, spec, "at_least").items():
                if (
                    flagtypes.kind(component, flag) != "int"
                    or not isinstance(number, int)
                    or isinstance(number, bool)
                    or number < 0
                ):
                    raise flagtypes.FlagError(
                        f"at_least --{flag} of {component}: needs an integer flag and a number from 0"
                    )
                at_least[flag] = number
        except flagtypes.FlagError as error:
            raise c.ControlInputError(f"control {cid!r}: {error}") from None
        named = [*values, *present, *absent, *absent_if, *lists["includes"], *lists["excludes"], *at_least]
        if len(named) != len(set(named)):
            raise c.ControlInputError(f"control {cid!r}: a flag is named twice in one spec")
        return FlagSpec(
            component,
            values,
            present,
            absent,
            absent_if,
            lists["includes"],
            lists["excludes"],
            at_least,
            _mounts(cid, spec.get("mounts")),
        )

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        by_component: dict[str, list[tuple[dict, FlagSpec]]] = {}
        for control, spec in items:
            by_component.setdefault(spec.component, []).append((control, spec))
        found: dict[str, Finding] = {}
        for component, group in by_component.items():
            found.update(self._component(node, component, group))
        return found

    def _component(self, node: Node, component: str, group: list[tuple[dict, FlagSpec]]) -> dict[str, Finding]:
        path = self.context.manifest_path(component)
        text = node.read(path)
        if text is None:
            reason = f"no {path}: {component} does not run as a static pod here (not a control plane node)"
            return {control["id"]: Finding(skipped=reason) for control, _unused in group}
        try:
            manifest = Manifest(path, text)
        except ManifestError as error:
            raise c.ControlInputError(f"{error}; nothing was changed") from None
        current = manifest.flags()
        wanted: dict[str, str | None] = dict(current)
        found: dict[str, Finding] = {}
        owners: dict[str, tuple[str, bool]] = {}
        mounts: list[Mount] = []
        for control, spec in group:
            finding = Finding(expected={}, actual={})
            exact = {*spec.set, *spec.present, *spec.absent, *spec.absent_if}
            for flag, value in _wanted(spec, wanted).items():
                # Controls adding to or taking from a list, or raising a number, combine; a control
                # that wants a value of its own conflicts with any other that changes it.
                first = owners.get(flag)
                if (
                    first
                    and (first[1] or flag in exact)
                    and not flagtypes.same(component, flag, wanted.get(flag), value)
                ):
                    raise c.ControlInputError(
                        f"controls {first[0]!r} and {control['id']!r} want --{flag} of {component} set otherwise"
                    )
                owners.setdefault(flag, (control["id"], flag in exact))
                wanted[flag] = value
            # The control's own verdict: what it alone would change on the manifest as it is.
            for flag, value in _wanted(spec, current).items():
                finding.expected[f"--{flag}"] = value
                finding.actual[f"--{flag}"] = current.get(flag)
                if not flagtypes.same(component, flag, current.get(flag), value):
                    finding.differences.append(c.difference(f"--{flag}", path, value, current.get(flag)))
            if finding.differences:
                mounts += [m for m in spec.mounts if m not in mounts]
            found[control["id"]] = finding
        changes = {f: v for f, v in wanted.items() if not flagtypes.same(component, f, current.get(f), v)}
        if not changes:
            return found
        self._check_files(node, manifest, component, changes, mounts)
        try:
            new_text = edit(manifest, changes, mounts)
        except ManifestError as error:
            raise c.ControlInputError(f"{error}; nothing was changed") from None
        mode = os.stat(node.path(path)).st_mode & 0o777
        action = static_pod.change_action(node, manifest, new_text, self.context.options, mode)
        for finding in found.values():
            if finding.differences:
                finding.actions.append(action)
        return found

    def _check_files(self, node: Node, manifest: Manifest, component: str, changes: dict, mounts: list[Mount]) -> None:
        """Every file a new value names must exist on the node (or be written by this run) and be mounted."""
        problems = []
        for flag, value in sorted(changes.items()):
            if value is None:
                continue
            kind = flagtypes.kind(component, flag)
            if kind not in flagtypes.PATH_KINDS:
                continue
            target = os.path.dirname(value) if kind == "logfile" else value
            host = manifest.host_path(target, mounts)
            if host is None:
                problems.append(
                    f"--{flag}={value}: no hostPath volume of the Pod mounts {target} (add it to the control's mounts)"
                )
            elif kind == "file" and not node.exists(host) and host not in self.context.planned:
                problems.append(f"--{flag}={value}: {host} does not exist on this node")
        if problems:
            raise c.ControlInputError(
                f"{component} would not start with the new {manifest.path}: "
                + "; ".join(problems)
                + "; nothing was written"
            )


def _mapping(cid: str, spec: dict, key: str) -> dict:
    value = spec.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise c.ControlInputError(f"control {cid!r}: {key} must map flag names (without --) to values")
    for flag in value:
        if flag.startswith("-"):
            raise c.ControlInputError(f"control {cid!r}: write flag names without dashes ({flag!r})")
    return value


def _names_list(cid: str, spec: dict, key: str) -> list[str]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) and not v.startswith("-") for v in value):
        raise c.ControlInputError(f"control {cid!r}: {key} must be a list of flag names without dashes")
    return value


def _mounts(cid: str, value: t.Any) -> list[Mount]:
    out = []
    for item in value or []:
        if not isinstance(item, dict) or set(item) - {"name", "path", "type", "read_only"}:
            raise c.ControlInputError(f"control {cid!r}: each mount is {{name, path, type, read_only}}")
        name = item.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise c.ControlInputError(f"control {cid!r}: mount name {name!r} is not a DNS label")
        kind = item.get("type", "DirectoryOrCreate")
        if kind not in MOUNT_TYPES:
            raise c.ControlInputError(f"control {cid!r}: mount type must be one of {', '.join(MOUNT_TYPES)}")
        out.append(
            Mount(name, check_path(cid, item.get("path"), "mount path"), kind, bool(item.get("read_only", True)))
        )
    return out


def _wanted(spec: FlagSpec, wanted: dict[str, str | None]) -> dict[str, str | None]:
    """The values this spec wants for its flags, given what earlier controls already want."""
    out: dict[str, str | None] = dict(spec.set)
    for flag, default in spec.present.items():
        out[flag] = wanted.get(flag) if wanted.get(flag) is not None else default
    for flag in spec.absent:
        out[flag] = None
    for flag, value in spec.absent_if.items():
        out[flag] = None if wanted.get(flag) == value else wanted.get(flag)
    for flag, items in spec.includes.items():
        have = flagtypes.elements(wanted.get(flag) or "")
        out[flag] = ",".join(have + [item for item in items if item not in have])
    for flag, items in spec.excludes.items():
        have = flagtypes.elements(wanted.get(flag) or "")
        kept = [item for item in have if item not in items]
        out[flag] = ",".join(kept) if kept else None
    for flag, number in spec.at_least.items():
        value = wanted.get(flag)
        out[flag] = value if value is not None and value.isdigit() and int(value) >= number else str(number)
    return out


# --- file modes and owners -----------------------------------------------------------------------
class Files(FileAttributes):
    name = "controlplane_files"

    def validate(self, node: Node, control: dict, spec: t.Any) -> t.Any:
        if not isinstance(spec, dict):
            raise c.ControlInputError(f"control {control['id']!r}: spec must be a mapping")
        only = spec.get("only_if_exists")
        rest = {key: value for key, value in spec.items() if key != "only_if_exists"}
        return (check_path(control["id"], only, "only_if_exists") if only else None), super().validate(
            node, control, rest
        )

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        found: dict[str, Finding] = {}
        kept = []
        for control, (only, spec) in items:
            if only and not node.exists(only):
                found[control["id"]] = Finding(skipped=f"{only} is absent: not a control plane node")
            else:
                kept.append((control, spec))
        if kept:
            found.update(super().inspect(node, kept))
        return found


# --- the manifests directory ---------------------------------------------------------------------
class Manifests(Family):
    name = "controlplane_manifests"

    def __init__(self, context: Context) -> None:
        self.context = context

    def validate(self, node: Node, control: dict, spec: t.Any) -> dict:
        if spec not in (None, {}):
            raise c.ControlInputError(f"control {control['id']!r}: spec must be empty ({{}})")
        return {}

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        directory = self.context.options.manifests_dir
        if not os.path.isdir(node.path(directory)):
            return {
                control["id"]: Finding(skipped=f"no {directory}: not a control plane node")
                for control, _unused in items
            }
        finding = Finding(expected={"files that are not a Pod or repeat a Pod's name": []})
        pods: dict[str, list[str]] = {}
        stray: list[tuple[str, str]] = []
        unread: list[str] = []
        for entry in sorted(os.listdir(node.path(directory))):
            path = os.path.join(directory, entry)
            if static_pod.hidden(entry) or os.path.isdir(node.path(path)):
                continue
            try:
                data = yamldoc.load(node.read(path) or "")
            except yamldoc.YamlError as error:
                # YAML this module does not read may still be a Pod the kubelet runs: never moved.
                unread.append(f"{path}: {error}")
                continue
            name = pod_name(data)
            if name is None:
                stray.append((entry, "not a Pod (apiVersion v1, kind Pod, a name and containers)"))
            else:
                pods.setdefault(name, []).append(entry)
        for name, entries in pods.items():
            if len(entries) > 1:
                keep = next(
                    (e for e in entries if e in (f"{name}.yaml", f"{name}.yml", f"{name}.manifest")), entries[0]
                )
                stray += [(e, f"a second Pod named {name} (beside {keep})") for e in entries if e != keep]
        finding.actual = {"files that are not a Pod or repeat a Pod's name": [e for e, _unused in stray]}
        for entry, why in stray:
            path = os.path.join(directory, entry)
            finding.differences.append(c.difference(path, directory, "absent", why))
            finding.actions.append(self._move(node, path))
        if unread:
            finding.details["not read"] = unread
        return {control["id"]: finding for control, _unused in items}

    def _move(self, node: Node, path: str) -> Action:
        target_dir = os.path.join(self.context.options.backup_dir, "moved")
        target = os.path.join(target_dir, os.path.basename(path))

        def run() -> None:
            os.makedirs(node.path(target_dir), mode=0o700, exist_ok=True)
            if os.path.exists(node.path(target)):
                os.unlink(node.path(target))
            shutil.move(node.path(path), node.path(target))

        def undo() -> None:
            shutil.move(node.path(target), node.path(path))

        return Action(
            f"move:{path}",
            f"move {path} to {target}",
            run,
            undo,
            [state_diff(path, "present\n", f"moved to {target}\n")],
        )


def pod_name(data: t.Any) -> str | None:
    """The name of a document the kubelet would run as a static pod, None for anything else."""
    if not isinstance(data, dict) or data.get("apiVersion") != "v1" or data.get("kind") != "Pod":
        return None
    metadata, spec = data.get("metadata"), data.get("spec")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    containers = spec.get("containers") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name and isinstance(containers, list) and containers else None


def build(options: static_pod.Options) -> list[Family]:
    context = Context(options)
    return [Account(context), Config(context), Encryption(context), Flags(context), Files(), Manifests(context)]


NAMES = ["controlplane_account", "controlplane_config", "controlplane_encryption", "controlplane_flags"]
NAMES += ["controlplane_files", "controlplane_manifests"]
