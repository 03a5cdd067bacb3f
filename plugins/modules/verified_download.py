#!/usr/bin/python
# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: verified_download
short_description: Install a platform binary or unpack a release archive only when its published checksum matches
version_added: 0.4.0
description:
  - Installs one file at O(dest) (a binary such as gVisor's C(runsc)), or unpacks one tar archive into the
    directory O(dest) (such as Kata Containers' static tarball), from an http, https or file URL, from a file
    already on the node (O(src)) or from a file on the controller (O(controller_src), for air-gapped fleets).
  - The wanted digest is O(checksum), or the line for the artifact in the checksum file the project publishes
    (O(checksum_url)). The download is streamed into a temporary file beside O(dest) and hashed on the way; a
    digest that differs, a download that breaks off or an archive member that could reach outside O(dest)
    installs nothing and leaves nothing behind.
  - Only a verified file is put in place, by a rename in the same directory, with its mode (and owner
    root:root when running as root) already set. An archive is unpacked into a new sibling directory and
    swapped in with two renames; a marker file C(.nodeguard-artifact.json) in it records the archive's
    digest, so that a later run can tell what was unpacked without downloading it again.
  - An installed file with the wanted digest is not downloaded again; when only its mode (or owner) differs,
    only that is changed.
  - Directories above O(dest) are created with mode 0755 when missing.
author:
  - nodeguard.hardening maintainers (@nodeguard)
attributes:
  check_mode:
    support: full
    description: Reads the published checksum and what is installed and reports what would change; downloads nothing.
  diff_mode:
    support: full
    description: Shows the installed digest and mode (and owner) before and as wanted.
  platform:
    support: full
    platforms: posix
    description: Linux nodes on x86_64 (amd64) or aarch64 (arm64) when O(url) uses C({arch}) or C({goarch}).
options:
  name:
    description:
      - The artifact's name in messages and in the control's id (C(artifact.) and the name in lower case).
      - Defaults to the last part of O(dest).
    type: str
  url:
    description:
      - Where to download the artifact from, an C(http://), C(https://) or C(file://) URL.
      - May hold C({arch}) (C(x86_64), C(aarch64)), C({goarch}) (C(amd64), C(arm64)) and C({version}), filled
        for each node.
      - Proxies are taken from the usual environment variables (C(https_proxy), C(no_proxy)); a password in the
        URL is masked in messages and results.
      - Exactly one of O(url), O(src) and O(controller_src) is required.
    type: str
  src:
    description:
      - A file already on the node to install instead of downloading one (its absolute path; the same
        placeholders as O(url)). It is copied, not moved.
    type: path
  controller_src:
    description:
      - A file on the controller (searched like the C(src) of M(ansible.builtin.copy), in a role's C(files)
        first; vault-encrypted files are decrypted). The action plugin copies it to the node's temporary
        directory, runs the module with O(src) pointing at the copy and removes it afterwards.
      - When O(checksum) is given, the file is verified on the controller before anything is copied.
      - In check mode nothing is copied.
      - Taken literally; choose per node with Jinja (for example C(runsc-{{ ansible_architecture }})).
    type: str
  checksum:
    description:
      - The digest the artifact must have, C(sha256:) and 64 hex digits or C(sha512:) and 128.
      - Exactly one of O(checksum) and O(checksum_url) is required.
    type: str
  checksum_url:
    description:
      - A checksum file the project publishes, with the same placeholders as O(url). It holds a bare hex digest,
        or lines C(DIGEST  NAME) or C(DIGEST *NAME) as C(sha256sum) and C(sha512sum) write them (or the BSD
        form C(SHA512 (NAME) = DIGEST)).
      - The line whose NAME is the last part of O(url) (or O(src)) is taken; a file of one line is taken as is.
      - Read in check mode too (it changes nothing).
    type: str
  algorithm:
    description:
      - The digest's algorithm. The length of the digest says it (64 hex digits are sha256, 128 sha512); given,
        it must agree.
    type: str
    choices: [sha256, sha512]
  version:
    description: The release, filled in for C({version}) in O(url), O(src) and O(checksum_url).
    type: str
  dest:
    description:
      - The absolute path of the installed file or, with O(unpack), of the directory the archive is unpacked
        into (its whole content is replaced; a system tree such as C(/opt) or C(/usr/local) as a whole is
        refused).
    type: path
    required: true
  mode:
    description:
      - Mode of the installed file (or of the directory O(dest) with O(unpack)), an octal string such as
        C("0755") or a number.
      - Files unpacked from an archive keep their own modes without setuid, setgid, sticky and group or other
        write bits.
    type: raw
    default: "0755"
  unpack:
    description:
      - The artifact is a tar archive (C(.tar), C(.tar.gz), C(.tgz), C(.tar.xz), C(.tar.bz2), or C(.tar.zst)
        when the C(zstd) command is installed) to unpack into O(dest).
      - Members with absolute names or C(..), links leading outside O(dest), device files and fifos are
        refused; owner is root:root when running as root.
    type: bool
    default: false
  strip_components:
    description:
      - Leading path components to drop from the archive's member names, as C(tar --strip-components) does;
        a leading C(./) is not counted. Members with no more components are skipped.
      - For the Kata static tarball, whose members start with C(./opt/kata/), V(2) unpacks C(opt/kata) into
        O(dest).
    type: int
    default: 0
  timeout:
    description: Seconds a connection may stay silent before the download (or the checksum file) fails.
    type: int
    default: 60
seealso:
  - module: ansible.builtin.get_url
    description: Downloads without the archive handling, the undo or the control result.
  - module: ansible.builtin.unarchive
"""

EXAMPLES = r"""
- name: Install gVisor's runsc, verified against the published SHA-512
  nodeguard.hardening.verified_download:
    name: runsc
    url: https://storage.googleapis.com/gvisor/releases/release/{version}/{arch}/runsc
    checksum_url: https://storage.googleapis.com/gvisor/releases/release/{version}/{arch}/runsc.sha512
    version: "20240212"
    dest: /usr/local/bin/runsc

- name: Unpack Kata Containers' static tarball into /opt/kata
  nodeguard.hardening.verified_download:
    name: kata-static
    url: https://github.com/kata-containers/kata-containers/releases/download/{version}/kata-static-{version}-{goarch}.tar.xz
    checksum: "sha256:{{ kata_static_sha256[ansible_architecture] }}"
    version: 3.2.0
    dest: /opt/kata
    unpack: true
    strip_components: 2

- name: Install containerd-shim-runsc-v1 from an internal mirror
  nodeguard.hardening.verified_download:
    url: https://mirror.example.internal/gvisor/{version}/{arch}/containerd-shim-runsc-v1
    checksum_url: https://mirror.example.internal/gvisor/{version}/{arch}/SHA512SUMS
    algorithm: sha512
    version: "20240212"
    dest: /usr/local/bin/containerd-shim-runsc-v1
    timeout: 30

- name: Install runsc from a file on the controller (air-gapped fleet)
  nodeguard.hardening.verified_download:
    controller_src: "gvisor/runsc-{{ ansible_architecture }}"
    checksum: "sha512:{{ runsc_sha512[ansible_architecture] }}"
    dest: /usr/local/bin/runsc
  register: runsc
"""

RETURN = r"""
dest:
  description: The installed file, or the directory the archive was unpacked into.
  returned: always
  type: str
  sample: /usr/local/bin/runsc
source:
  description:
    - Where the artifact comes from, with the placeholders filled (a password in the URL masked), or O(src).
    - With O(controller_src), the file on the controller.
  returned: always
  type: str
  sample: https://storage.googleapis.com/gvisor/releases/release/20240212/x86_64/runsc
checksum:
  description: The digest the artifact has (or, in check mode, must have), as C(ALGORITHM:HEX).
  returned: success
  type: str
  sample: "sha512:6b3e...9f1c"
controls:
  description:
    - One result, with id C(artifact.) and the name in lower case, and the keys C(id), C(title), C(benchmarks),
      C(level), C(profile), C(status), C(reason), C(expected), C(actual), C(differences) and C(details).
    - C(status) is C(pass) (installed as wanted), C(fixed) (installed or its mode set by this run), C(drift)
      (check mode, would change) or C(error) (the task failed; C(reason) says why).
    - C(differences) name the missing file or directory, the digest (expected and found, C(ALGORITHM:HEX)),
      the mode and the owner.
  returned: always
  type: list
  elements: dict
  sample:
    - id: artifact.runsc
      title: runsc at /usr/local/bin/runsc is the published file
      status: fixed
      differences:
        - {item: /usr/local/bin/runsc, where: digest, expected: "sha512:6b3e...9f1c", actual: "sha512:0a4d...77e2"}
summary:
  description: Number of controls per status.
  returned: always
  type: dict
  sample: {"pass": 0, "fixed": 1, "drift": 0, "skipped": 0, "error": 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls, _download


def argument_spec() -> dict:
    return {
        "name": {"type": "str"},
        "url": {"type": "str"},
        "src": {"type": "path"},
        "controller_src": {"type": "str"},
        "checksum": {"type": "str"},
        "checksum_url": {"type": "str"},
        "algorithm": {"type": "str", "choices": ["sha256", "sha512"]},
        "version": {"type": "str"},
        "dest": {"type": "path", "required": True},
        "mode": {"type": "raw", "default": "0755"},
        "unpack": {"type": "bool", "default": False},
        "strip_components": {"type": "int", "default": 0},
        "timeout": {"type": "int", "default": 60},
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("url", "src", "controller_src"), ("checksum", "checksum_url")],
        required_one_of=[("url", "src", "controller_src"), ("checksum", "checksum_url")],
        supports_check_mode=True,
    )
    params = module.params
    try:
        if params["controller_src"] is not None:
            raise _controls.ControlInputError(
                "controller_src is a file on the controller, which the action plugin copies over; call the task "
                "as nodeguard.hardening.verified_download, or give src (a file on the node) instead"
            )
        if params["timeout"] < 1:
            raise _controls.ControlInputError(f"timeout {params['timeout']} must be 1 second or more")
        artifact = _download.resolve(
            _download.parse({key: params[key] for key in _download.FIELDS}, "verified_download")
        )
    except _controls.ControlInputError as exc:
        module.fail_json(msg=str(exc), changed=False)
    try:
        result = _download.ensure(module, artifact, timeout=params["timeout"])
    except _download.DownloadError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    finally:
        _download.discard_backups()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
