# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters of the sandbox role: gVisor's release files as verified downloads."""

from __future__ import annotations

import re
import typing as t

from ansible.errors import AnsibleFilterError

_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_RELEASE = re.compile(r"^[0-9]{8}(\.[0-9]+)?$")


def sandbox_gvisor_artifact(name: t.Any, base: t.Any, release: t.Any, bin_dir: t.Any) -> dict:
    """One file of gVisor's release as an artifact of the sandbox_runtimes module.

    BASE is a URL (gVisor's bucket or a mirror, ending in the release's machine directory, where
    C({arch}) stands for x86_64 or aarch64) or an absolute directory on the node (air-gapped);
    either way the file's published FILE.sha512 sits beside it.
    """
    where = "sandbox_gvisor_artifact"
    if not isinstance(name, str) or not _FILE.match(name):
        raise AnsibleFilterError(f"{where}: {name!r} is not a file name of gVisor's release (such as runsc)")
    if not isinstance(release, str) or not _RELEASE.match(release):
        raise AnsibleFilterError(f"{where}: release {release!r} is not a gVisor release such as 20240729.0")
    if not isinstance(bin_dir, str) or not bin_dir.startswith("/"):
        raise AnsibleFilterError(f"{where}: the binary directory {bin_dir!r} must be an absolute path")
    if not isinstance(base, str) or not base:
        raise AnsibleFilterError(f"{where}: give a download URL or a directory on the node")
    base = base.rstrip("/")
    artifact = {"name": name, "dest": f"{bin_dir.rstrip('/')}/{name}", "mode": "0755", "algorithm": "sha512"}
    if base.startswith("/"):
        artifact.update(src=f"{base}/{name}", checksum_url=f"file://{base}/{name}.sha512")
    elif base.startswith(("https://", "http://")):
        artifact.update(url=f"{base}/{name}", checksum_url=f"{base}/{name}.sha512", version=release)
    else:
        raise AnsibleFilterError(f"{where}: {base!r} is neither an http(s) URL nor an absolute directory")
    return artifact


class FilterModule:
    def filters(self) -> dict[str, t.Callable]:
        return {"sandbox_gvisor_artifact": sandbox_gvisor_artifact}
