# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Release files installed from verified downloads (gVisor's release, Kata's static tarball).

Spec: C({artifacts: [ARTIFACT, ...]}), each as M(nodeguard.hardening.verified_download) takes it
(see plugins/module_utils/_download.py). The published checksums are read first; a file whose
digest differs is downloaded into a temporary file beside its place, verified, and only then
moved in: a bad checksum installs nothing, and the files the run installed before it are put back.
"""

from __future__ import annotations

import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils import _download
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.engine import Action, Family, Finding
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import Node


class Artifacts(Family):
    name = "artifacts"

    def validate(self, node: Node, control: dict, spec: t.Any) -> list[_download.Artifact]:
        cid = control["id"]
        if not isinstance(spec, dict) or set(spec) != {"artifacts"} or not isinstance(spec["artifacts"], list):
            raise c.ControlInputError(f"control {cid!r}: spec must be {{artifacts: [files to download and verify]}}")
        if not spec["artifacts"]:
            raise c.ControlInputError(f"control {cid!r}: spec.artifacts lists no file")
        out = []
        claimed: dict[str, str] = node.cached("artifacts:dests", dict)
        for index, entry in enumerate(spec["artifacts"]):
            where = f"control {cid!r}: artifacts[{index}]"
            if not isinstance(entry, dict):
                raise c.ControlInputError(f"{where} must be a mapping")
            artifact = _download.resolve(_download.parse(entry, where))
            if claimed.setdefault(artifact.dest, cid) != cid:
                raise c.ControlInputError(
                    f"{where}: {artifact.dest} is also installed by control {claimed[artifact.dest]!r}"
                )
            out.append(artifact)
        return out

    def inspect(self, node: Node, items: list[tuple[dict, t.Any]]) -> dict[str, Finding]:
        root = node.path("/")
        found: dict[str, Finding] = {}
        for control, artifacts in items:
            finding = Finding(expected={}, actual={})
            for artifact in artifacts:
                try:
                    expected = _download.expected_digest(node.module, artifact)
                except _download.DownloadError as exc:
                    finding.differences.append(
                        c.difference(artifact.name, artifact.checksum_url or "checksum", "published checksum", str(exc))
                    )
                    finding.unfixable = str(exc)
                    continue
                try:
                    state = _download.installed(artifact, expected[0], root=root)
                    diffs = _download.differences(artifact, expected, state)
                except _download.DownloadError as exc:
                    finding.differences.append(c.difference(artifact.name, artifact.dest, "a regular file", str(exc)))
                    finding.unfixable = str(exc)
                    continue
                finding.expected[artifact.dest] = {
                    "checksum": f"{expected[0]}:{expected[1]}",
                    "source": artifact.url or artifact.src,
                }
                finding.actual[artifact.dest] = state
                if diffs:
                    finding.differences += diffs
                    right = state.get("present") and state.get("digest") == expected[1]
                    finding.actions.append(
                        _attributes_action(artifact, root)
                        if right
                        else _install_action(node, artifact, expected, root, state)
                    )
            found[control["id"]] = finding
        return found


def _attributes_action(artifact: _download.Artifact, root: str) -> Action:
    """The content is the verified one: only mode and owner are set."""
    undo: list[t.Callable[[], None]] = []

    def run() -> None:
        try:
            undo.append(_download.set_attributes(artifact, root))
        except _download.DownloadError as exc:
            raise c.ControlInputError(str(exc)) from exc

    return Action(
        f"artifact:{artifact.dest}",
        f"set mode {artifact.mode:04o} and owner root of {artifact.dest}",
        run,
        lambda: [step() for step in undo] and None,
    )


def _install_action(
    node: Node, artifact: _download.Artifact, expected: tuple[str, str], root: str, state: dict
) -> Action:
    undo: list[t.Callable[[], None]] = []

    def run() -> None:
        try:
            undo.append(_download.install(node.module, artifact, expected, root=root))
        except _download.DownloadError as exc:
            raise c.ControlInputError(str(exc)) from exc

    def put_back() -> None:
        for step in undo:
            step()

    what = f"install {artifact.name} at {artifact.dest} from {artifact.url or artifact.src}, verified by {expected[0]}"
    diff = [
        {
            "before_header": f"{artifact.dest} (checksum)",
            "after_header": f"{artifact.dest} (checksum)",
            "before": f"{state.get('algorithm') or expected[0]}:{state['digest']}\n" if state.get("digest") else "",
            "after": f"{expected[0]}:{expected[1]}\n",
        }
    ]
    return Action(f"artifact:{artifact.dest}", what, run, put_back, diff)
