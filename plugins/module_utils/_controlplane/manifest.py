# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A static pod manifest: its container's flags, volumes and probe, and an editor that works by lines.

Manifests are read with the YAML subset of yamldoc (block YAML as kubeadm, kubespray and people
write it; anything outside it is refused with the line). An edit sets, changes or removes flags of
one container's C(command) (or C(args)) and adds the hostPath volumes and mounts a flag needs.
Every line it does not change stays byte for byte, so comments, key order and layout survive. A
new flag goes where kubeadm would put it when the flags are in name order (kubeadm sorts them),
else after the last one; a flag written twice keeps its last place (the last one wins for the
component) and loses the others. New volumes and mounts follow the same rule by name.

The edited text is read back before it is returned: the whole Pod must be the same, except the
flags and volumes asked for (ManifestError C(internal: ...) otherwise).
"""

from __future__ import annotations

import copy
import posixpath
import typing as t
from dataclasses import dataclass

from ansible_collections.nodeguard.hardening.plugins.module_utils._controlplane import flagtypes
from ansible_collections.nodeguard.hardening.plugins.module_utils._kubelet import yamldoc

MOUNT_TYPES = ("File", "FileOrCreate", "Directory", "DirectoryOrCreate")


class ManifestError(ValueError):
    """The manifest cannot be read or edited; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Mount:
    """A hostPath volume mounted at the same path in the container."""

    name: str
    path: str
    type: str = "DirectoryOrCreate"
    read_only: bool = True


@dataclass(frozen=True)
class Occurrence:
    where: str  # "command" or "args"
    index: int  # the flag's item in that list
    span: int  # 1 for --flag=value or --flag, 2 for "--flag", "value"
    value: str


@dataclass(frozen=True)
class Probe:
    scheme: str
    host: str
    port: int
    path: str

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme.lower()}://{host}:{self.port}{self.path}"


def split_flag(item: t.Any) -> tuple[str, str | None] | None:
    """(name, value or None) of a C(--name=value) or C(--name) item, None for anything else."""
    if not isinstance(item, str) or not item.startswith("--") or len(item) < 3:
        return None
    name, sep, value = item[2:].partition("=")
    return name, (value if sep else None)


class Manifest:
    """One manifest file's text, read as a Pod, and one of its containers."""

    def __init__(self, path: str, text: str, container: str | None = None) -> None:
        self.path, self.text = path, text
        try:
            data = yamldoc.load(text)
        except yamldoc.YamlError as error:
            raise ManifestError(f"{path}: {error}") from None
        self.data = data
        spec = self._pod_spec(data)
        containers = spec["containers"]
        names = [item.get("name") if isinstance(item, dict) else None for item in containers]
        if container is None:
            self.index = 0
        elif container in names:
            self.index = names.index(container)
        else:
            raise ManifestError(f"{path}: no container named {container!r} (containers: {', '.join(map(str, names))})")
        self.container = containers[self.index]
        if not isinstance(self.container, dict):
            raise ManifestError(f"{path}: containers[{self.index}] is not a mapping")
        for key in ("command", "args"):
            value = self.container.get(key)
            if value is not None and (not isinstance(value, list) or not all(isinstance(i, str) for i in value)):
                raise ManifestError(f"{path}: the container's {key} must be a list of strings")
        self.command: list[str] = list(self.container.get("command") or [])
        self.args: list[str] = list(self.container.get("args") or [])
        if not self.command:
            raise ManifestError(f"{path}: the container has no command; a static pod of the control plane names it")

    def _pod_spec(self, data: t.Any) -> dict:
        if not isinstance(data, dict) or data.get("apiVersion") != "v1" or data.get("kind") != "Pod":
            raise ManifestError(f"{self.path}: not a Pod (apiVersion v1, kind Pod)")
        metadata = data.get("metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            raise ManifestError(f"{self.path}: the Pod has no metadata.name")
        spec = data.get("spec")
        if not isinstance(spec, dict) or not isinstance(spec.get("containers"), list) or not spec["containers"]:
            raise ManifestError(f"{self.path}: the Pod has no spec.containers")
        for key in ("volumes",):
            if spec.get(key) is not None and not isinstance(spec[key], list):
                raise ManifestError(f"{self.path}: spec.{key} is not a list")
        return spec

    @property
    def name(self) -> str:
        return self.data["metadata"]["name"]

    @property
    def binary(self) -> str:
        return posixpath.basename(self.command[0])

    def occurrences(self) -> dict[str, list[Occurrence]]:
        """Every flag of the container, in order, by name (the component uses the last one)."""
        found: dict[str, list[Occurrence]] = {}
        for where, items in (("command", self.command), ("args", self.args)):
            start = 1 if where == "command" else 0
            index = start
            while index < len(items):
                parsed = split_flag(items[index])
                if parsed is None:
                    index += 1
                    continue
                name, value = parsed
                span = 1
                following = items[index + 1] if index + 1 < len(items) else None
                # pflag never takes the next word as a boolean flag's value.
                boolean = flagtypes.FLAGS.get(self.binary, {}).get(name) == "bool"
                if value is None and following is not None and not following.startswith("-") and not boolean:
                    value, span = following, 2
                found.setdefault(name, []).append(Occurrence(where, index, span, "true" if value is None else value))
                index += span
        return found

    def flags(self) -> dict[str, str]:
        """Each flag's value as the component reads it (the last occurrence; a bare flag is "true")."""
        return {name: found[-1].value for name, found in self.occurrences().items()}

    def volumes(self) -> list[dict]:
        return [v for v in self.data["spec"].get("volumes") or [] if isinstance(v, dict)]

    def mounts(self) -> list[dict]:
        return [m for m in self.container.get("volumeMounts") or [] if isinstance(m, dict)]

    def host_path(self, path: str, extra: t.Iterable[Mount] = ()) -> str | None:
        """Where the container's C(path) is on the node (through a hostPath volume), or None."""
        volumes = {v.get("name"): (v.get("hostPath") or {}).get("path") for v in self.volumes()}
        pairs = [(m.get("mountPath"), volumes.get(m.get("name"))) for m in self.mounts()]
        pairs += [(m.path, m.path) for m in extra]
        best = None
        for mount_path, host in pairs:
            if not isinstance(mount_path, str) or not isinstance(host, str):
                continue
            inside = mount_path.rstrip("/") or "/"
            covers = path == inside or path.startswith(inside.rstrip("/") + "/")
            if covers and (best is None or len(inside) > len(best[0])):
                best = (inside, host)
        if best is None:
            return None
        rest = path[len(best[0]) :].lstrip("/")
        return posixpath.join(best[1], rest) if rest else best[1]

    def probe(self) -> Probe | None:
        """The container's liveness probe when it is an HTTP GET (the kubelet's check of it)."""
        probe = self.container.get("livenessProbe") or self.container.get("startupProbe")
        get = probe.get("httpGet") if isinstance(probe, dict) else None
        if not isinstance(get, dict):
            return None
        port = get.get("port")
        if isinstance(port, str):
            named = [p.get("containerPort") for p in self.container.get("ports") or [] if p.get("name") == port]
            port = named[0] if named else None
        if not isinstance(port, int) or isinstance(port, bool):
            return None
        host = get.get("host") or "127.0.0.1"
        return Probe(str(get.get("scheme") or "HTTP"), str(host), port, str(get.get("path") or "/"))


# --- editing -------------------------------------------------------------------------------------
class _Lines:
    """Line edits against the original numbering, applied at once."""

    def __init__(self, text: str) -> None:
        self.root, self.lines, self.endings = yamldoc.outline(text)
        self.newline = "\r\n" if "\r\n" in self.endings else "\n"
        self.replaced: dict[int, str] = {}
        self.deleted: set[int] = set()
        self.before: dict[int, list[str]] = {}

    def insert(self, at: int, lines: list[str]) -> None:
        self.before.setdefault(at, []).extend(lines)

    def result(self) -> str:
        out: list[str] = []
        for i in range(len(self.lines) + 1):
            out.extend(line + self.newline for line in self.before.get(i, []))
            if i < len(self.lines) and i not in self.deleted:
                out.append(self.replaced.get(i, self.lines[i]) + (self.endings[i] or self.newline))
        text = "".join(out)
        if self.endings and not self.endings[-1] and len(self.lines) not in self.before and text.endswith(self.newline):
            text = text[: -len(self.newline)]  # the file had no final newline; keep it so
        return text


def _entry(node: t.Any, key: str, path: str, what: str) -> t.Any:
    if node is None or node.kind != "map":
        raise ManifestError(f"{path}: {what} is not a block mapping; editing it is not supported")
    return node.entries.get(key)


def _block_seq(entry: t.Any, path: str, what: str) -> t.Any:
    value = entry.value
    if value.kind == "seq":
        if any(item.kind != "scalar" and what.endswith(("command", "args")) for item in value.items):
            raise ManifestError(f"{path}: {what} holds an item that is not a plain value")
        return value
    raise ManifestError(f"{path}: {what} is not a block sequence ('- ' items); editing it is not supported")


def _sorted_position(names: list[str], new: str) -> int | None:
    """Where C(new) goes among C(names) when they are in order, else None (append)."""
    if names != sorted(names):
        return None
    for index, name in enumerate(names):
        if new < name:
            return index
    return len(names)


def _item_prefix(lines: list[str], seq: t.Any) -> str:
    first = seq.items[0]
    return lines[first.line][: first.col]


def edit(manifest: Manifest, flags: dict[str, str | None], mounts: t.Iterable[Mount] = ()) -> str:
    """The manifest's text with C(flags) set (None: removed) and C(mounts) added where missing."""
    path = manifest.path
    lines = _Lines(manifest.text)
    spec_entry = _entry(lines.root, "spec", path, "the document")
    containers_entry = _entry(spec_entry.value, "containers", path, "spec")
    containers = _block_seq(containers_entry, path, "spec.containers")
    container = containers.items[manifest.index]
    found = manifest.occurrences()
    lists = {}
    for where in ("command", "args"):
        entry = _entry(container, where, path, "the container")
        lists[where] = _block_seq(entry, path, f"the container's {where}") if entry is not None else None

    for name in sorted(flags):
        value = flags[name]
        places = found.get(name, [])
        for occurrence in places[:-1] if value is not None else places:
            seq = lists[occurrence.where]
            for k in range(occurrence.span):
                lines.deleted.add(seq.items[occurrence.index + k].line)
        if value is None:
            continue
        item_text = yamldoc.render_scalar(f"--{name}={value}")
        if places:
            last = places[-1]
            seq = lists[last.where]
            node = seq.items[last.index]
            text = lines.lines[node.line]
            lines.replaced[node.line] = text[: node.col] + item_text + text[node.stop :]
            if last.span == 2:
                lines.deleted.add(seq.items[last.index + 1].line)
            continue
        where = (
            "args" if lists["args"] is not None and manifest.args and not _has_flags(found, "command") else "command"
        )
        seq = lists[where]
        items = manifest.command if where == "command" else manifest.args
        named = [(i, split_flag(item)) for i, item in enumerate(items)]
        flag_items = [(i, parsed[0]) for i, parsed in named if parsed is not None]
        position = _sorted_position([n for _unused, n in flag_items], name)
        prefix = _item_prefix(lines.lines, seq)
        if position is not None and position < len(flag_items):
            lines.insert(seq.items[flag_items[position][0]].line, [prefix + item_text])
        else:
            lines.insert(seq.items[-1].end, [prefix + item_text])

    added = _add_mounts(manifest, lines, spec_entry, container, list(mounts))
    result = lines.result()
    _check(manifest, result, flags, added)
    return result


def _has_flags(found: dict[str, list[Occurrence]], where: str) -> bool:
    return any(o.where == where for places in found.values() for o in places)


def _add_mounts(manifest: Manifest, lines: _Lines, spec_entry: t.Any, container: t.Any, mounts: list[Mount]) -> list:
    path = manifest.path
    volumes = {v.get("name"): v for v in manifest.volumes()}
    by_host = {(v.get("hostPath") or {}).get("path"): v.get("name") for v in manifest.volumes()}
    existing_mounts = {m.get("mountPath"): m for m in manifest.mounts()}
    new_volumes: list[Mount] = []
    new_mounts: list[Mount] = []
    for mount in mounts:
        current = volumes.get(mount.name)
        if current is not None and (current.get("hostPath") or {}).get("path") != mount.path:
            raise ManifestError(
                f"{path}: the Pod has a volume named {mount.name!r} for another path; "
                f"give the mount for {mount.path} another name"
            )
        name = mount.name if current is not None else by_host.get(mount.path)
        if name is None:
            new_volumes.append(mount)
            name = mount.name
        have = existing_mounts.get(mount.path)
        if have is None:
            new_mounts.append(Mount(name, mount.path, mount.type, mount.read_only))
        elif have.get("name") != name:
            raise ManifestError(f"{path}: {mount.path} is mounted from volume {have.get('name')!r}, not {name!r}")
    if new_volumes:
        _insert_items(lines, spec_entry.value, "volumes", [_volume_lines(m) for m in new_volumes], path, new_volumes)
    if new_mounts:
        _insert_items(lines, container, "volumeMounts", [_mount_lines(m) for m in new_mounts], path, new_mounts)
    return [("volume", m) for m in new_volumes] + [("mount", m) for m in new_mounts]


def _volume_lines(mount: Mount) -> list[tuple[int, str]]:
    """(depth, text) lines of one volume item: depth 0 for the item's keys, 1 below them."""
    return [
        (0, "hostPath:"),
        (1, "path: " + yamldoc.render_scalar(mount.path)),
        (1, "type: " + mount.type),
        (0, "name: " + yamldoc.render_scalar(mount.name)),
    ]


def _mount_lines(mount: Mount) -> list[tuple[int, str]]:
    out = [(0, "mountPath: " + yamldoc.render_scalar(mount.path)), (0, "name: " + yamldoc.render_scalar(mount.name))]
    return out + ([(0, "readOnly: true")] if mount.read_only else [])


def _insert_items(lines: _Lines, parent: t.Any, key: str, items: list, path: str, mounts: list[Mount]) -> None:
    entry = _entry(parent, key, path, f"the mapping holding {key}")
    if entry is None or (entry.value.kind == "scalar" and entry.value.data is None):
        # No such list yet: a new key after the mapping's last line, items in kubeadm's style
        # (dashes at the key's column).
        col = parent.col
        dash, step = " " * col + "- ", 2
        new = [" " * col + f"{key}:"]
        for _unused, item in sorted(zip(mounts, items), key=lambda pair: pair[0].name):
            new += _render_item(item, dash, col + 2, step)
        if entry is None:
            lines.insert(parent.end, new)
        else:
            lines.replaced[entry.line] = new[0]
            lines.insert(entry.line + 1, new[1:])
        return
    seq = _block_seq(entry, path, key)
    if not seq.items:
        raise ManifestError(f"{path}: {key} is empty in a way that cannot be edited by lines")
    first = seq.items[0]
    dash = lines.lines[first.line][: first.col]
    step = _learn_step(first) or 2
    names = [_item_name(item) for item in seq.items]
    for mount, item in sorted(zip(mounts, items), key=lambda pair: pair[0].name):
        position = _sorted_position(names, mount.name) if all(isinstance(n, str) for n in names) else None
        at = seq.items[position].line if position is not None and position < len(seq.items) else seq.items[-1].end
        lines.insert(at, _render_item(item, dash, first.col, step))


def _learn_step(item: t.Any) -> int | None:
    for entry in item.entries.values() if item.kind == "map" else ():
        if entry.value.kind == "map":
            return entry.value.col - entry.col
    return None


def _item_name(item: t.Any) -> str | None:
    if item.kind != "map" or "name" not in item.entries:
        return None
    value = item.entries["name"].value.data
    return value if isinstance(value, str) else None


def _render_item(rows: list[tuple[int, str]], dash: str, col: int, step: int) -> list[str]:
    """An item's lines: the first after the dash, the others at the item's column (plus a step per depth)."""
    return [
        dash + text if number == 0 else " " * (col + depth * step) + text for number, (depth, text) in enumerate(rows)
    ]


def _check(manifest: Manifest, result: str, flags: dict[str, str | None], added: list) -> None:
    """The edited text must read back as the same Pod with exactly the changes asked for."""
    try:
        after = Manifest(manifest.path, result, manifest.container.get("name"))
    except ManifestError as error:
        raise ManifestError(
            f"internal: the edited manifest does not read back ({error}); nothing was changed"
        ) from None
    wanted = manifest.flags()
    for name, value in flags.items():
        if value is None:
            wanted.pop(name, None)
        else:
            wanted[name] = value
    problems = []
    if after.flags() != wanted:
        problems.append("flags")
    if _plain_items(after) != _plain_items(manifest):
        problems.append("command")
    volumes = manifest.volumes() + [
        {"hostPath": {"path": m.path, "type": m.type}, "name": m.name} for kind, m in added if kind == "volume"
    ]
    mounts = manifest.mounts() + [
        {"mountPath": m.path, "name": m.name, **({"readOnly": True} if m.read_only else {})}
        for kind, m in added
        if kind == "mount"
    ]
    if sorted(map(repr, after.volumes())) != sorted(map(repr, volumes)):
        problems.append("volumes")
    if sorted(map(repr, after.mounts())) != sorted(map(repr, mounts)):
        problems.append("volumeMounts")
    rest_before, rest_after = _without_edited(manifest), _without_edited(after)
    if rest_before != rest_after:
        problems.append("the rest of the Pod")
    if problems:
        raise ManifestError(
            f"internal: the edited {manifest.path} does not read back as intended ({', '.join(problems)}); "
            "nothing was changed"
        )


def _plain_items(manifest: Manifest) -> list[tuple[str, str]]:
    """The command's and args' items that are neither a flag nor a flag's value."""
    taken = {
        (o.where, o.index + k) for places in manifest.occurrences().values() for o in places for k in range(o.span)
    }
    return [
        (where, item)
        for where, items in (("command", manifest.command), ("args", manifest.args))
        for index, item in enumerate(items)
        if (where, index) not in taken
    ]


def _without_edited(manifest: Manifest) -> t.Any:
    data = copy.deepcopy(manifest.data)
    data["spec"].pop("volumes", None)
    container = data["spec"]["containers"][manifest.index]
    for key in ("command", "args", "volumeMounts"):
        container.pop(key, None)
    return data
