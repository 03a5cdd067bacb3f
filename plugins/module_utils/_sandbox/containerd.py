# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runtime handlers of containerd's CRI plugin, in a drop-in the main configuration imports.

The main file (C(/etc/containerd/config.toml)) stays the user's: the only change to it is the
drop-in's path in its top-level C(imports), added to what is there, comments and order kept.

containerd merges an imported file into the main one plugin section by plugin section: the CRI
plugin's section of the drop-in replaces the user's whole section (containerd issue 5837). So the
drop-in carries a copy of the user's CRI section (from the main file and the other imports, the
last one that has it winning, as containerd reads them) with the handlers added; when the user
changes that section later, the copy differs and the next run renews it. A default runtime the
user's section leaves to containerd's defaults (runc) is written out, so that it stays.

Configuration version 2 (containerd 1.x) keeps the handlers under the plugin
C(io.containerd.grpc.v1.cri), version 3 (containerd 2.x) under C(io.containerd.cri.v1.runtime);
the version comes from the main file, or from the installed containerd when there is none.

Spec of a control (one handler each; all controls share the drop-in):
C({handler: runsc, runtime_type: io.containerd.runc.v2, options: {BinaryName: ...},
settings: {pod_annotations: [...]}, inherit_options: [SystemdCgroup], binaries: [paths],
gvisor: {binary: /usr/bin/runsc, flags: {platform: ptrace}, wrapper: PATH, config: PATH}}).
C(inherit_options) copies those options from the default runtime when it sets them (the kubelet's
cgroup driver must be the same for every handler). C(binaries) must exist once the earlier
families ran. C(gvisor) writes gVisor's flags (see gvisor.py) and points the options at them.

After the files are written, C(containerd config dump) must show every wanted setting; when it
does not, the files are put back and the run fails naming what containerd shows instead.
"""

from __future__ import annotations

import copy
import glob
import os
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import gvisor, tomltext
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import file_attributes, write_action

PLUGINS = {2: "io.containerd.grpc.v1.cri", 3: "io.containerd.cri.v1.runtime"}
HANDLER = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")
RUNTIME_TYPE = re.compile(r"^io\.containerd\.[a-z0-9]+(\.[a-z0-9]+)*\.v[0-9]+$")
SCALARS = (str, int, float, bool)
HEADER = (
    "# Runtime handlers of nodeguard.hardening's sandbox role, imported by\n"
    "# {config}.\n"
    "# containerd replaces a whole plugin section from an imported file, so this file carries a\n"
    "# copy of the CRI plugin's settings from the main configuration with the handlers added.\n"
    "# It is replaced on every run: change the role's variables, or the main configuration (the\n"
    "# copy follows it), not this file.\n"
)
DUMP_KEY = "containerd:dump"


@dataclass(frozen=True)
class Options:
    config: str = "/etc/containerd/config.toml"
    drop_in: str = "/etc/containerd/conf.d/90-nodeguard-sandbox.toml"
    version: int | None = None
    dump_check: bool = True


@dataclass
class Handler:
    handler: str
    runtime_type: str
    options: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    inherit_options: list = field(default_factory=list)
    binaries: list = field(default_factory=list)
    gvisor: dict | None = None
    files: dict = field(default_factory=dict)


def _check_table(cid: str, name: str, table: t.Any) -> dict:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise c.ControlInputError(f"control {cid!r}: {name} must be a mapping")
    for key, item in table.items():
        if not isinstance(key, str) or not key:
            raise c.ControlInputError(f"control {cid!r}: {name} has a key that is not a word: {key!r}")
        values = item if isinstance(item, list) else [item]
        if not all(isinstance(entry, SCALARS) for entry in values):
            raise c.ControlInputError(
                f"control {cid!r}: {name}.{key} must be a string, number, boolean or a list of them"
            )
    return dict(table)


def _check_path(cid: str, path: t.Any, what: str) -> str:
    if not isinstance(path, str) or not path.startswith("/") or "\n" in path or path.rstrip("/") == "":
        raise c.ControlInputError(f"control {cid!r}: {what} must be an absolute path, got {path!r}")
    return os.path.normpath(path)


class ContainerdRuntimes(Family):
    name = "containerd_runtime"

    def __init__(self, options: Options) -> None:
        self.options = options

    def validate(self, node: Node, control: dict, spec: t.Any) -> Handler:
        cid = control["id"]
        if not isinstance(spec, dict):
            raise c.ControlInputError(f"control {cid!r}: spec must be a mapping with handler and runtime_type")
        unknown = sorted(
            set(spec) - {"handler", "runtime_type", "options", "settings", "inherit_options", "binaries", "gvisor"}
        )
        if unknown:
            raise c.ControlInputError(f"control {cid!r}: unknown spec keys {', '.join(unknown)}")
        name = spec.get("handler")
        if not isinstance(name, str) or not HANDLER.match(name):
            raise c.ControlInputError(
                f"control {cid!r}: handler {name!r} is not a RuntimeClass handler name (lower-case DNS label)"
            )
        runtime_type = spec.get("runtime_type")
        if not isinstance(runtime_type, str) or not RUNTIME_TYPE.match(runtime_type):
            raise c.ControlInputError(
                f"control {cid!r}: runtime_type {runtime_type!r} is not a containerd shim name "
                "such as io.containerd.runc.v2"
            )
        handler = Handler(
            handler=name,
            runtime_type=runtime_type,
            options=_check_table(cid, "options", spec.get("options")),
            settings=_check_table(cid, "settings", spec.get("settings")),
        )
        for key in ("runtime_type", "options"):
            if key in handler.settings:
                raise c.ControlInputError(f"control {cid!r}: give {key} as its own spec key, not in settings")
        inherit = spec.get("inherit_options") or []
        if not isinstance(inherit, list) or not all(isinstance(k, str) and k for k in inherit):
            raise c.ControlInputError(f"control {cid!r}: inherit_options must list option names")
        handler.inherit_options = list(inherit)
        binaries = spec.get("binaries") or []
        if not isinstance(binaries, list):
            raise c.ControlInputError(f"control {cid!r}: binaries must list absolute paths")
        handler.binaries = [_check_path(cid, path, "every binaries entry") for path in binaries]
        if spec.get("gvisor") is not None:
            self._validate_gvisor(cid, spec["gvisor"], handler)
        claimed: dict[str, str] = node.cached("containerd:handlers", dict)
        if claimed.setdefault(name, cid) != cid:
            raise c.ControlInputError(f"control {cid!r}: handler {name} is also wanted by control {claimed[name]!r}")
        return handler

    @staticmethod
    def _validate_gvisor(cid: str, spec: t.Any, handler: Handler) -> None:
        if not isinstance(spec, dict):
            raise c.ControlInputError(f"control {cid!r}: gvisor must be a mapping with binary and flags")
        binary = _check_path(cid, spec.get("binary", "/usr/bin/runsc"), "gvisor.binary")
        flags = gvisor.check_flags(cid, spec.get("flags"))
        if handler.runtime_type == gvisor.RUNSC_SHIM:
            path = _check_path(cid, spec.get("config", "/etc/containerd/runsc.toml"), "gvisor.config")
            handler.files[path] = (gvisor.shim_config(handler.handler, flags), 0o644)
            handler.options.update({"TypeUrl": gvisor.RUNSC_OPTIONS_TYPE, "ConfigPath": path})
        elif handler.runtime_type == gvisor.RUNC_SHIM:
            path = _check_path(
                cid, spec.get("wrapper", f"/usr/local/libexec/nodeguard/{handler.handler}"), "gvisor.wrapper"
            )
            handler.files[path] = (gvisor.wrapper(handler.handler, binary, flags), 0o755)
            handler.options["BinaryName"] = path
        else:
            raise c.ControlInputError(
                f"control {cid!r}: gvisor needs runtime_type {gvisor.RUNSC_SHIM} (gVisor's shim) or "
                f"{gvisor.RUNC_SHIM} (runc's shim running runsc)"
            )
        handler.gvisor = {"binary": binary, "flags": flags}
        if binary not in handler.binaries:
            handler.binaries.append(binary)

    # -- inspect -------------------------------------------------------------------------------

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        try:
            plan = self._plan(node, [spec for _unused, spec in items])
        except (tomltext.TomlError, CommandError) as exc:
            return {
                control["id"]: Finding(
                    differences=[c.difference("containerd's configuration", self.options.config, "readable", str(exc))],
                    unfixable=str(exc),
                )
                for control, _unused in items
            }
        found = {}
        for control, spec in items:
            found[control["id"]] = self._finding(node, plan, spec)
        return found

    def _plan(self, node: Node, handlers: list[Handler]) -> dict:
        opts = self.options
        main_text = node.read(opts.config)
        main = tomltext.loads(main_text, opts.config) if main_text is not None else {}
        version = main.get("version") if main_text is not None else (opts.version or self._installed_version(node))
        if opts.version and main_text is not None and version != opts.version:
            raise tomltext.TomlError(f"{opts.config} is configuration version {version}, not {opts.version} as asked")
        if version not in PLUGINS:
            raise tomltext.TomlError(
                f"{opts.config} is configuration version {version or 1}: only versions 2 (containerd 1.x) and 3 "
                "(containerd 2.x) are handled; convert it with `containerd config migrate`"
            )
        plugin = PLUGINS[version]
        imports = main.get("imports") or []
        if not isinstance(imports, list) or not all(isinstance(entry, str) for entry in imports):
            raise tomltext.TomlError(f"{opts.config}: imports must be a list of paths")
        files = self._imported(node, imports)
        covered = opts.drop_in in files
        section: dict = copy.deepcopy((main.get("plugins") or {}).get(plugin) or {})
        after_ours: list[str] = []
        seen_ours = False
        for path in files:
            if path == opts.drop_in:
                seen_ours = True
                continue
            data = tomltext.loads(node.read(path) or "", path)
            theirs = (data.get("plugins") or {}).get(plugin)
            if theirs is not None:
                if seen_ours:
                    after_ours.append(path)
                else:
                    section = copy.deepcopy(theirs)
        wanted = copy.deepcopy(section)
        runtimes = wanted.setdefault("containerd", {}).setdefault("runtimes", {})
        default_name = wanted["containerd"].get("default_runtime_name", "runc")
        if default_name not in runtimes and default_name == "runc":
            runtimes["runc"] = {"runtime_type": gvisor.RUNC_SHIM}
        default_options = (runtimes.get(default_name) or {}).get("options") or {}
        tables = {}
        for spec in handlers:
            table = {"runtime_type": spec.runtime_type, **spec.settings}
            # containerd reads runc's options whatever the case of their first letter (kubespray
            # writes systemdCgroup): inherit them as the user spelled them.
            wanted_keys = {key.lower() for key in spec.inherit_options}
            options = {key: item for key, item in default_options.items() if key.lower() in wanted_keys}
            options.update(spec.options)
            if options:
                table["options"] = options
            tables[spec.handler] = runtimes[spec.handler] = table
        # What the dump must show: the handlers, the default runtime, and the section's own plain
        # settings (the sandbox image, ...); deeper tables may be shown in a newer spelling.
        checked = {key: item for key, item in wanted.items() if not isinstance(item, dict)}
        checked["containerd"] = {"runtimes": {default_name: runtimes.get(default_name), **tables}}
        if runtimes.get(default_name) is None:
            del checked["containerd"]["runtimes"][default_name]
        header = HEADER.format(config=opts.config)
        wanted_data = {"version": version, "plugins": {plugin: wanted}}
        drop_in_text = tomltext.dumps(wanted_data, header)
        current_text = node.read(opts.drop_in)
        current = tomltext.loads(current_text, opts.drop_in) if current_text is not None else {}
        current_runtimes = (((current.get("plugins") or {}).get(plugin) or {}).get("containerd") or {}).get(
            "runtimes"
        ) or {}
        new_main = None if covered else self._with_import(main_text, version, opts.drop_in)
        return {
            "version": version,
            "plugin": plugin,
            "wanted": wanted,
            "checked": checked,
            "tables": tables,
            "drop_in_text": drop_in_text,
            "current_text": current_text,
            "rest_current": _without_handlers(current, plugin, list(tables)),
            "rest_wanted": _without_handlers(wanted_data, plugin, list(tables)),
            "current_runtimes": current_runtimes,
            "main_text": main_text,
            "new_main": new_main,
            "after_ours": after_ours,
            "user_section": section,
        }

    @staticmethod
    def _installed_version(node: Node) -> int:
        binary = node.binary("containerd")
        if not binary:
            raise tomltext.TomlError("containerd is not installed and there is no configuration to say its version")
        _rc, out, _err = node.run([binary, "--version"])
        match = re.search(r"\bv?(\d+)\.\d+", out)
        if not match:
            raise tomltext.TomlError(f"containerd --version printed no version: {out.strip()!r}")
        return 3 if int(match.group(1)) >= 2 else 2

    def _imported(self, node: Node, patterns: list[str]) -> list[str]:
        """The files the imports name, in containerd's order (each pattern's matches sorted)."""
        base = os.path.dirname(self.options.config)
        root = node.path("/")
        files: list[str] = []
        for pattern in patterns:
            absolute = pattern if pattern.startswith("/") else os.path.join(base, pattern)
            if glob.has_magic(absolute):
                matches = sorted(glob.glob(node.path(absolute)))
                names = ["/" + os.path.relpath(match, root) for match in matches]
                # The drop-in still to be written belongs where its name sorts.
                if not node.exists(self.options.drop_in) and PurePosixPath(self.options.drop_in).match(absolute):
                    names = sorted([*names, self.options.drop_in])
            else:
                names = [absolute] if node.exists(absolute) or absolute == self.options.drop_in else []
            files += [os.path.normpath(name) for name in names if os.path.normpath(name) not in files]
        return files

    @staticmethod
    def _with_import(main_text: str | None, version: int, drop_in: str) -> str:
        """The main file with DROP_IN added to its top-level imports, everything else as it was
        (comments inside or after the array included)."""
        entry = tomltext.string(drop_in)
        if main_text is None:
            return f"version = {version}\nimports = [{entry}]\n"
        lines = main_text.splitlines(keepends=True)
        top = next((i for i, line in enumerate(lines) if line.lstrip().startswith("[")), len(lines))
        for index in range(top):
            if re.match(r"^\s*imports\s*=", lines[index]):
                block = "".join(lines[index:top])
                at, empty = _closing_bracket(block)
                return "".join(lines[:index]) + _appended(block[:at], entry, empty) + block[at:] + "".join(lines[top:])
        at = next((i + 1 for i in range(top) if re.match(r"^\s*version\s*=", lines[i])), 0)
        before = lines[:at]
        if before and not before[-1].endswith("\n"):
            before[-1] += "\n"
        return "".join([*before, f"imports = [{entry}]\n", *lines[at:]])

    def _finding(self, node: Node, plan: dict, spec: Handler) -> Finding:
        opts = self.options
        wanted = plan["tables"][spec.handler]
        actual = plan["current_runtimes"].get(spec.handler)
        finding = Finding(
            expected=wanted,
            actual=actual,
            details={
                "config": opts.config,
                "drop_in": opts.drop_in,
                "config_version": plan["version"],
                "plugin": plan["plugin"],
            },
        )
        if spec.gvisor:
            finding.details["gvisor"] = spec.gvisor
        diffs = finding.differences
        missing = [path for path in spec.binaries if not node.exists(path)]
        if missing:
            diffs += [c.difference(path, "binary", "installed", None) for path in missing]
            finding.unfixable = f"{', '.join(missing)} not installed: install the runtime first"
        if plan["after_ours"]:
            diffs.append(
                c.difference(
                    f"{plan['plugin']} section",
                    ", ".join(plan["after_ours"]),
                    "not replaced after " + opts.drop_in,
                    "replaced",
                )
            )
            finding.unfixable = (
                f"{', '.join(plan['after_ours'])} is imported after {opts.drop_in} and replaces the CRI section with "
                "the handlers; name the drop-in so that it sorts last"
            )
        if actual != wanted:
            diffs.append(c.difference(f"runtime handler {spec.handler}", opts.drop_in, wanted, actual))
        elif plan["rest_current"] != plan["rest_wanted"]:
            diffs.append(
                c.difference(
                    "copy of the CRI plugin's other settings", opts.drop_in, "as in " + opts.config, "outdated"
                )
            )
        if plan["new_main"] is not None:
            diffs.append(c.difference("imports", opts.config, opts.drop_in, "not imported"))
        for path, (content, mode) in spec.files.items():
            before = node.read(path)
            attributes = file_attributes(node, path)
            if before != content:
                diffs.append(c.difference(f"gVisor flags of {spec.handler}", path, content, before))
            elif attributes and attributes[0] != mode:
                diffs.append(c.difference(path, "mode", f"{mode:04o}", f"{attributes[0]:04o}"))
            if before != content or (attributes and attributes[0] != mode):
                finding.actions.append(write_action(node, path, content, mode))
        if diffs and not finding.unfixable:
            finding.actions += self._actions(node, plan)
        elif not diffs and opts.dump_check and node.binary("containerd"):
            self._check_dump(node, plan, finding, spec.handler)
        return finding

    def _actions(self, node: Node, plan: dict) -> list[Action]:
        opts = self.options
        actions = []
        if plan["current_text"] != plan["drop_in_text"]:
            actions.append(write_action(node, opts.drop_in, plan["drop_in_text"], 0o644))
        if plan["new_main"] is not None:
            attributes = file_attributes(node, opts.config)
            actions.append(write_action(node, opts.config, plan["new_main"], attributes[0] if attributes else 0o644))
        if opts.dump_check and node.binary("containerd"):
            actions.append(
                Action(
                    DUMP_KEY,
                    "check that containerd config dump shows the handlers",
                    lambda: self._require_dump(node, plan),
                )
            )
        return actions

    def _dump_differences(self, node: Node, plan: dict, handlers: list[str], fresh: bool = False) -> list[dict]:
        """What `containerd config dump` lacks of the section's plain settings, the default runtime
        and the HANDLERS' tables. One dump serves every control of an inspection."""
        binary = node.binary("containerd")
        argv = [binary, "--config", node.path(self.options.config), "config", "dump"]

        def dump() -> dict:
            return tomltext.loads(node.run(argv)[1], "containerd config dump")

        dumped = dump() if fresh else node.cached(DUMP_KEY, dump)
        shown = (dumped.get("plugins") or {}).get(plan["plugin"])
        if shown is None and plan["version"] == 3:
            shown = (dumped.get("plugins") or {}).get(PLUGINS[2])
        checked = copy.deepcopy(plan["checked"])
        runtimes = checked["containerd"]["runtimes"]
        for name in list(runtimes):
            if name in plan["tables"] and name not in handlers:
                del runtimes[name]
        return _missing(checked, shown or {}, f"containerd config dump, plugin {plan['plugin']}")

    def _check_dump(self, node: Node, plan: dict, finding: Finding, handler: str) -> None:
        try:
            diffs = self._dump_differences(node, plan, [handler])
        except (CommandError, tomltext.TomlError) as exc:
            finding.differences.append(c.difference("containerd config dump", "containerd", "readable", str(exc)))
            finding.unfixable = f"containerd cannot read its configuration: {exc}"
            return
        if diffs:
            finding.differences += diffs
            finding.unfixable = "containerd does not show the settings of its files; another file may override them"

    def _require_dump(self, node: Node, plan: dict) -> None:
        try:
            diffs = self._dump_differences(node, plan, list(plan["tables"]), fresh=True)
        except tomltext.TomlError as exc:
            raise c.ControlInputError(f"containerd config dump printed no configuration: {exc}") from exc
        if diffs:
            raise c.ControlInputError(f"containerd config dump does not show the new settings: {c.describe(diffs[:5])}")


def _without_handlers(data: dict, plugin: str, handlers: list[str]) -> dict:
    """DATA without the tables of HANDLERS: what the drop-in holds besides the handlers."""
    rest = copy.deepcopy(data)
    runtimes = (((rest.get("plugins") or {}).get(plugin) or {}).get("containerd") or {}).get("runtimes")
    for name in handlers:
        if isinstance(runtimes, dict):
            runtimes.pop(name, None)
    return rest


def _appended(before: str, entry: str, empty: bool) -> str:
    """BEFORE (an array up to its closing bracket) with ENTRY as its last value, in its layout:
    one value per line stays one per line."""
    core = before.rstrip()
    tail = before[len(core) :]
    last_line = core.rsplit("\n", 1)[-1]
    indent = last_line[: len(last_line) - len(last_line.lstrip())]
    if empty:
        return core + entry + tail
    if core.endswith(","):
        return core + (f"\n{indent}{entry}," if "\n" in tail else f" {entry}") + tail
    if "#" in last_line:
        # A comment ends the last value's line: the comma goes on the next one.
        return core + f"\n{indent}, {entry}" + tail
    return core + f", {entry}" + tail


def _closing_bracket(text: str) -> tuple[int, bool]:
    """Where the array that TEXT's first key holds ends (the index of its closing bracket), and
    whether it holds no value; strings and comments are skipped."""
    depth, quote, comment, values = 0, "", False, False
    for index, char in enumerate(text):
        if comment:
            comment = char != "\n"
        elif quote:
            if char == quote and text[index - 1] != "\\":
                quote = ""
        elif char == "#":
            comment = True
        elif char in "'\"":
            quote, values = char, True
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index, not values
    raise tomltext.TomlError("the top-level imports of the main configuration have no closing bracket")


def _missing(wanted: t.Any, shown: t.Any, where: str, prefix: str = "") -> list[dict]:
    """Settings of WANTED that SHOWN lacks or has otherwise (SHOWN may hold more)."""
    if isinstance(wanted, dict):
        if not isinstance(shown, dict):
            return [c.difference(prefix or "section", where, wanted, shown)]
        out: list[dict] = []
        for key, item in wanted.items():
            out += _missing(item, shown.get(key), where, f"{prefix}.{key}" if prefix else key)
        return out
    if wanted != shown:
        return [c.difference(prefix, where, wanted, shown)]
    return []
