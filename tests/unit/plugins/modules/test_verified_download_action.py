# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The verified_download action plugin: controller_src copied to the node's temporary directory
(checked first when the checksum is given), nothing copied in check mode, the copy removed; and one
real run through ansible on localhost."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.nodeguard.hardening.plugins.action import verified_download as action
from ansible_collections.nodeguard.hardening.plugins.modules import verified_download as module

TMPDIR = "/root/.ansible/tmp/ansible-tmp-1-2-3"
DATA = b"\x7fELF runsc from the controller\n"
SHA = "sha512:" + hashlib.sha512(DATA).hexdigest()


class Plugin:
    """The action plugin with a fake connection; records transfers, module runs and removals."""

    def __init__(self, tmp_path: Path, args: dict, *, check_mode: bool = False, module_result: dict | None = None):
        self.local = tmp_path / "files" / "runsc"
        self.local.parent.mkdir(exist_ok=True)
        self.local.write_bytes(DATA)
        task = mock.MagicMock(args=args, check_mode=check_mode, async_val=0, action=action.MODULE)
        connection = mock.MagicMock()
        connection._shell.tmpdir = TMPDIR
        connection._shell.join_path = posixpath.join
        loader = mock.MagicMock()
        loader.get_real_file = lambda path, decrypt=True: path
        self.plugin = action.ActionModule(
            task, connection, mock.MagicMock(), loader, mock.MagicMock(), mock.MagicMock()
        )
        self.transfers: list[tuple[str, str]] = []
        self.runs: list[dict] = []
        self.removed: list[str] = []
        self.module_result = module_result or {"changed": True, "source": f"{TMPDIR}/runsc", "controls": []}
        self.plugin._transfer_file = lambda local, remote: self.transfers.append((local, remote)) or remote
        self.plugin._fixup_perms2 = lambda paths, **kw: None
        self.plugin._remove_tmp_path = self.removed.append
        self.plugin._find_needle = lambda kind, name: str(tmp_path / kind / name)
        self.plugin._execute_module = self._execute_module

    def _execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        assert module_name == "nodeguard.hardening.verified_download"
        self.runs.append(dict(module_args))
        return json.loads(json.dumps(self.module_result))

    def run(self) -> dict:
        return self.plugin.run(task_vars={})


def test_without_controller_src_it_just_runs_the_module(tmp_path):
    args = {"url": "https://example.invalid/runsc", "checksum": SHA, "dest": "/usr/local/bin/runsc"}
    plugin = Plugin(tmp_path, args, module_result={"changed": False, "source": "https://example.invalid/runsc"})
    result = plugin.run()
    assert plugin.runs == [args]
    assert plugin.transfers == []
    assert result["source"] == "https://example.invalid/runsc"


def test_controller_src_is_copied_under_its_own_name_and_the_copy_removed(tmp_path):
    args = {"controller_src": "runsc", "checksum": SHA, "dest": "/usr/local/bin/runsc"}
    plugin = Plugin(
        tmp_path,
        args,
        module_result={
            "changed": True,
            "source": f"{TMPDIR}/runsc",
            "controls": [{"reason": None, "details": {"source": f"{TMPDIR}/runsc"}}],
        },
    )
    result = plugin.run()
    assert plugin.transfers == [(str(plugin.local), f"{TMPDIR}/runsc")]
    assert plugin.runs == [{"src": f"{TMPDIR}/runsc", "checksum": SHA, "dest": "/usr/local/bin/runsc"}]
    assert plugin.removed == [TMPDIR]
    assert result["source"] == "runsc"
    assert result["controls"][0]["details"]["source"] == "runsc"


def test_check_mode_copies_nothing(tmp_path):
    plugin = Plugin(tmp_path, {"controller_src": "runsc", "checksum": SHA, "dest": "/usr/bin/runsc"}, check_mode=True)
    plugin.run()
    assert plugin.transfers == []
    assert plugin.runs[0]["src"] == f"{TMPDIR}/runsc"


def test_a_controller_file_with_the_wrong_checksum_is_not_copied(tmp_path):
    wrong = "sha512:" + "0" * 128
    plugin = Plugin(tmp_path, {"controller_src": "runsc", "checksum": wrong, "dest": "/usr/bin/runsc"})
    result = plugin.run()
    assert result["failed"] is True
    assert SHA in result["msg"]
    assert wrong in result["msg"]
    assert "nothing was copied or installed" in result["msg"]
    assert (plugin.transfers, plugin.runs) == ([], [])
    assert plugin.removed == [TMPDIR]


def test_with_checksum_url_the_module_verifies_the_copy(tmp_path):
    args = {"controller_src": "runsc", "checksum_url": "https://example.invalid/runsc.sha512", "dest": "/usr/bin/runsc"}
    plugin = Plugin(
        tmp_path, args, module_result={"failed": True, "msg": f"runsc: {TMPDIR}/runsc has sha512:1, not sha512:2"}
    )
    result = plugin.run()
    assert len(plugin.transfers) == 1
    assert result["msg"] == "runsc: runsc has sha512:1, not sha512:2"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"url": "https://example.invalid/runsc"}, "controller_src and url are mutually exclusive"),
        ({"src": "/srv/runsc"}, "controller_src and src are mutually exclusive"),
        ({"controller_src": "runsc-{arch}"}, "taken literally"),
        ({"controller_src": ""}, "path of a file on the controller"),
        ({"controller_src": "missing"}, "controller_src 'missing'"),
    ],
)
def test_controller_src_refusals(tmp_path, changes, message):
    args = {"controller_src": "runsc", "checksum": SHA, "dest": "/usr/bin/runsc", **changes}
    plugin = Plugin(tmp_path, args)
    if changes.get("controller_src") == "missing":
        plugin.plugin._find_needle = mock.Mock(side_effect=action.AnsibleError("Could not find or access 'missing'"))
    result = plugin.run()
    assert result["failed"] is True
    assert message in result["msg"]
    assert (plugin.transfers, plugin.runs) == ([], [])


# --- one real run ----------------------------------------------------------------------------------


def run_ansible(args: dict, tmp_path: Path, *extra: str) -> dict:
    """ansible localhost -m nodeguard.hardening.verified_download over the local connection."""
    collections = Path(module.__file__).parents[5]
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "local-tmp"),
        "ANSIBLE_REMOTE_TMP": str(tmp_path / "remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    command = [shutil.which("ansible") or "ansible", "localhost", "-c", "local", "-i", "localhost,"]
    command += ["-m", action.MODULE, "-a", json.dumps(args), *extra]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    _head, _sep, body = done.stdout.partition(" => ")
    assert body, done.stdout + done.stderr
    return json.loads(body)


@pytest.mark.skipif(shutil.which("ansible") is None, reason="ansible is not installed")
def test_a_real_run_copies_the_controller_file_installs_it_once_and_cleans_up(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files/runsc").write_bytes(DATA)
    dest = tmp_path / "node/usr/local/bin/runsc"
    args = {"controller_src": str(tmp_path / "files/runsc"), "checksum": SHA, "dest": str(dest)}

    checked = run_ansible(args, tmp_path, "--check")
    assert (checked["changed"], checked["controls"][0]["status"]) == (True, "drift")
    assert not dest.exists()

    first = run_ansible(args, tmp_path)
    assert (first["changed"], first["controls"][0]["status"]) == (True, "fixed")
    assert first["source"] == str(tmp_path / "files/runsc")
    assert dest.read_bytes() == DATA
    assert os.stat(dest).st_mode & 0o777 == 0o755

    again = run_ansible(args, tmp_path)
    assert (again["changed"], again["controls"][0]["status"]) == (False, "pass")
    assert os.listdir(dest.parent) == ["runsc"]
    assert os.listdir(tmp_path / "remote-tmp") == []
