# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sandbox_gvisor_artifact: gVisor's release files as artifacts the download code accepts."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.nodeguard.hardening.plugins.filter.sandbox import FilterModule, sandbox_gvisor_artifact
from ansible_collections.nodeguard.hardening.plugins.module_utils import _download

BUCKET = "https://storage.googleapis.com/gvisor/releases/release/20240729.0/{arch}"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("runsc", BUCKET, "20240729.0", "/usr/local/bin"),
            {
                "name": "runsc",
                "dest": "/usr/local/bin/runsc",
                "mode": "0755",
                "algorithm": "sha512",
                "url": f"{BUCKET}/runsc",
                "checksum_url": f"{BUCKET}/runsc.sha512",
                "version": "20240729.0",
            },
        ),
        (
            ("containerd-shim-runsc-v1", "http://mirror.example.org/gvisor/x86_64/", "20240729", "/usr/local/bin/"),
            {
                "name": "containerd-shim-runsc-v1",
                "dest": "/usr/local/bin/containerd-shim-runsc-v1",
                "mode": "0755",
                "algorithm": "sha512",
                "url": "http://mirror.example.org/gvisor/x86_64/containerd-shim-runsc-v1",
                "checksum_url": "http://mirror.example.org/gvisor/x86_64/containerd-shim-runsc-v1.sha512",
                "version": "20240729",
            },
        ),
        (
            ("runsc", "/srv/gvisor/20240729.0/", "20240729.0", "/opt/gvisor/bin"),
            {
                "name": "runsc",
                "dest": "/opt/gvisor/bin/runsc",
                "mode": "0755",
                "algorithm": "sha512",
                "src": "/srv/gvisor/20240729.0/runsc",
                "checksum_url": "file:///srv/gvisor/20240729.0/runsc.sha512",
            },
        ),
    ],
)
def test_the_artifact(args, expected):
    assert sandbox_gvisor_artifact(*args) == expected


@pytest.mark.parametrize(
    ("base", "machine", "url"),
    [
        (BUCKET, "x86_64", "https://storage.googleapis.com/gvisor/releases/release/20240729.0/x86_64/runsc"),
        (BUCKET, "aarch64", "https://storage.googleapis.com/gvisor/releases/release/20240729.0/aarch64/runsc"),
    ],
)
def test_the_download_code_takes_the_artifact(base, machine, url):
    """What the filter returns is valid input of verified_download and the artifacts family."""
    artifact = _download.resolve(
        _download.parse(sandbox_gvisor_artifact("runsc", base, "20240729.0", "/usr/local/bin"), "t"), machine
    )
    assert artifact.url == url
    assert artifact.checksum_url == url + ".sha512"
    assert (artifact.dest, artifact.mode, artifact.algorithm) == ("/usr/local/bin/runsc", 0o755, "sha512")
    assert _download.artifact_basename(artifact) == "runsc"


def test_the_download_code_takes_the_air_gapped_artifact():
    artifact = _download.parse(sandbox_gvisor_artifact("runsc", "/srv/gvisor", "20240729.0", "/usr/local/bin"), "t")
    assert (artifact.src, artifact.checksum_url, artifact.url) == (
        "/srv/gvisor/runsc",
        "file:///srv/gvisor/runsc.sha512",
        "",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("../runsc", BUCKET, "20240729.0", "/usr/local/bin"), "'../runsc' is not a file name of gVisor's release"),
        (("", BUCKET, "20240729.0", "/usr/local/bin"), "'' is not a file name"),
        (("bin/runsc", BUCKET, "20240729.0", "/usr/local/bin"), "'bin/runsc' is not a file name"),
        ((None, BUCKET, "20240729.0", "/usr/local/bin"), "None is not a file name"),
        (("runsc", BUCKET, "latest", "/usr/local/bin"), "release 'latest' is not a gVisor release such as 20240729.0"),
        (("runsc", BUCKET, 20240729, "/usr/local/bin"), "release 20240729 is not a gVisor release"),
        (("runsc", BUCKET, "2024.07.29", "/usr/local/bin"), "release '2024.07.29' is not a gVisor release"),
        (
            ("runsc", BUCKET, "20240729.0", "usr/local/bin"),
            "the binary directory 'usr/local/bin' must be an absolute path",
        ),
        (("runsc", BUCKET, "20240729.0", None), "the binary directory None must be an absolute path"),
        (("runsc", "", "20240729.0", "/usr/local/bin"), "give a download URL or a directory on the node"),
        (("runsc", None, "20240729.0", "/usr/local/bin"), "give a download URL or a directory on the node"),
        (
            ("runsc", "ftp://mirror/gvisor", "20240729.0", "/usr/local/bin"),
            "'ftp://mirror/gvisor' is neither an http(s) URL nor an absolute directory",
        ),
        (("runsc", "srv/gvisor", "20240729.0", "/usr/local/bin"), "'srv/gvisor' is neither an http(s) URL"),
    ],
)
def test_refused(args, message):
    with pytest.raises(AnsibleFilterError) as error:
        sandbox_gvisor_artifact(*args)
    assert str(error.value).startswith("sandbox_gvisor_artifact: ")
    assert message in str(error.value)


def test_filter_module_exports():
    assert FilterModule().filters() == {"sandbox_gvisor_artifact": sandbox_gvisor_artifact}
