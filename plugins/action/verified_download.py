# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin of nodeguard.hardening.verified_download: C(controller_src) for air-gapped fleets.

Without C(controller_src) the module runs as it is. With it, the file on the controller is checked
against C(checksum) (when given) before anything is copied, copied into the node's temporary
directory under its own name (a checksum file names it so), and the module runs with C(src)
pointing at the copy; the temporary directory is removed afterwards. In check mode nothing is
copied: the module, which reads no source in check mode, gets the path the copy would have.
"""

from __future__ import annotations

import hashlib
import os
import typing as t

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

MODULE = "nodeguard.hardening.verified_download"
CHUNK = 1024 * 1024


class ActionModule(ActionBase):
    TRANSFERS_FILES = True
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        args = dict(self._task.args)
        controller_src = args.pop("controller_src", None)
        if controller_src is None:
            self.TRANSFERS_FILES = False
        result = super().run(tmp, task_vars)
        del tmp
        try:
            if controller_src is None:
                result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
                return result
            problem = self._refusal(controller_src, args)
            if problem:
                result.update(failed=True, changed=False, msg=problem)
                return result
            try:
                found = self._find_needle("files", controller_src)
                if os.path.isdir(found):
                    raise AnsibleError(f"{found} is a directory; give the file")
                local = self._loader.get_real_file(found, decrypt=True)
            except AnsibleError as exc:
                result.update(failed=True, changed=False, msg=f"controller_src {controller_src!r}: {exc.message}")
                return result
            try:
                problem = _checksum_problem(local, controller_src, args.get("checksum"))
                if problem:
                    result.update(failed=True, changed=False, msg=problem)
                    return result
                shell = self._connection._shell
                remote = shell.join_path(shell.tmpdir, _remote_name(controller_src))
                if not self._task.check_mode:
                    self._transfer_file(local, remote)
                    self._fixup_perms2((shell.tmpdir, remote))
            finally:
                self._loader.cleanup_tmp_file(local)
            args["src"] = remote
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            return _name_the_controller_file(result, remote, controller_src)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    @staticmethod
    def _refusal(controller_src: t.Any, args: dict) -> str | None:
        if not isinstance(controller_src, str) or not controller_src.strip():
            return "controller_src must be the path of a file on the controller"
        given = [key for key in ("url", "src") if args.get(key) is not None]
        if given:
            return f"controller_src and {' and '.join(given)} are mutually exclusive; give one source"
        if "{" in controller_src or "}" in controller_src:
            return (
                f"controller_src {controller_src!r} is taken literally and has no placeholders; "
                "choose the file per node with Jinja, such as runsc-{{ ansible_architecture }}"
            )
        return None


def _name_the_controller_file(result: dict, remote: str, controller_src: str) -> dict:
    """The module knows the copy in the temporary directory; the user knows the file on the controller."""
    if "source" in result:
        result["source"] = controller_src
    if isinstance(result.get("msg"), str):
        result["msg"] = result["msg"].replace(remote, controller_src)
    for control in result.get("controls") or []:
        if isinstance(control.get("reason"), str):
            control["reason"] = control["reason"].replace(remote, controller_src)
        if (control.get("details") or {}).get("source") == remote:
            control["details"]["source"] = controller_src
    return result


def _remote_name(controller_src: str) -> str:
    """The copy keeps the file's name (a published checksum file lists it by name); a hidden name stays hidden."""
    return os.path.basename(controller_src.rstrip("/")) or "artifact"


def _checksum_problem(local: str, controller_src: str, checksum: t.Any) -> str | None:
    """Verify the controller's file against a checksum given directly, before copying anything."""
    if not isinstance(checksum, str) or ":" not in checksum:
        return None  # checksum_url, or a malformed checksum the module reports
    algorithm, _sep, digest = checksum.strip().partition(":")
    algorithm = algorithm.lower()
    if algorithm not in ("sha256", "sha512"):
        return None
    hasher = hashlib.new(algorithm)
    with open(local, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            hasher.update(chunk)
    if hasher.hexdigest() != digest.strip().lower():
        return (
            f"controller_src {controller_src!r} has {algorithm}:{hasher.hexdigest()}, but {checksum.strip()} was "
            "expected; nothing was copied or installed. Check that the file is the release and architecture the "
            "checksum belongs to"
        )
    return None
