# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gVisor's flags (platform, network, ...) where runsc reads them.

With gVisor's own shim (containerd-shim-runsc-v1) the flags go to the shim's C(runsc.toml), under
C([runsc_config]), and the handler's options name that file. Without the shim (Debian packages
runsc alone), containerd's runc v2 shim runs runsc as its runc binary; that shim passes no flags
of its own, so the handler's binary is a small wrapper that runs runsc with the flags.

The wrapper also makes runsc answer as the runc shim expects runc to (found on containerd 1.6 and
1.7 with runsc 20221219 and 20240729):

- runsc puts a pod's later containers into the sandbox of its first one (the pause container),
  whose process outlives them, while the shim knows that a container ended only by the end of its
  process: starting a second container then never returns. The wrapper marks every container as
  a sandbox of its own (the CRI annotation of the bundle, before runsc reads it), so each container
  of a pod runs in a gVisor sandbox of its own. gVisor's shim keeps a pod in one sandbox.
- killing a container whose sandbox has ended fails with "sandbox is not running", which the shim
  takes as an unknown error and retries forever; runc says "container not running", which the shim
  takes as "already stopped". The wrapper says it runc's way.
"""

from __future__ import annotations

import re
import shlex
import typing as t

from ansible_collections.nodeguard.hardening.plugins.module_utils import _controls as c
from ansible_collections.nodeguard.hardening.plugins.module_utils._sandbox import tomltext

RUNSC_SHIM = "io.containerd.runsc.v1"
RUNC_SHIM = "io.containerd.runc.v2"
RUNSC_OPTIONS_TYPE = "io.containerd.runsc.v1.options"
FLAG_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
# The wrapper splits its command line on blanks: values are single words without shell patterns.
FLAG_VALUE = re.compile(r"^[A-Za-z0-9._:/,+=@%-]+$")
# Flags the wrapper or the shim sets from containerd's own options; set here they would clash.
RESERVED = ("root", "log", "log-format", "debug-log", "panic-log", "systemd-cgroup")
HEADER = (
    "# gVisor's flags for the {handler} runtime handler, written by nodeguard.hardening's sandbox role.\n"
    "# This file is replaced on every run: change the role's variables, not this file.\n"
)


def check_flags(cid: str, flags: t.Any) -> dict[str, str]:
    """The flags as C(name: text) pairs; names and values checked."""
    if flags is None:
        return {}
    if not isinstance(flags, dict):
        raise c.ControlInputError(f"control {cid!r}: gvisor.flags must map runsc flag names to values")
    out = {}
    for name, item in flags.items():
        if not isinstance(name, str) or not FLAG_NAME.match(name):
            raise c.ControlInputError(
                f"control {cid!r}: {name!r} is not a runsc flag name (lower-case words joined by -, no leading --)"
            )
        if name in RESERVED:
            raise c.ControlInputError(
                f"control {cid!r}: runsc's --{name} is set by containerd's shim; leave it out of gvisor.flags"
            )
        if isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, (int, float, str)):
            text = str(item)
        else:
            raise c.ControlInputError(f"control {cid!r}: runsc flag {name} needs a string, number or boolean")
        if not FLAG_VALUE.match(text):
            raise c.ControlInputError(
                f"control {cid!r}: runsc flag {name} needs a one-word value of letters, digits and . _ : / , + = @ % -"
            )
        out[name] = text
    # Sorted, so that the files do not change with the order the flags were given in.
    return dict(sorted(out.items()))


WRAPPER = """#!/bin/sh
{header}# containerd's runc v2 shim runs this as its runc binary (see the sandbox role's README section).
runsc={command}
bundle= previous= verb=
for arg; do
  [ "$previous" = --bundle ] && bundle=$arg
  case $arg in create | kill) [ -z "$verb" ] && verb=$arg ;; esac
  previous=$arg
done
# Each container in a sandbox of its own: the runc shim cannot follow a container that runs in
# the sandbox of another.
if [ "$verb" = create ] && [ -f "$bundle/config.json" ]; then
  sed -i 's/"io[.]kubernetes[.]cri[.]container-type":"container"/"io.kubernetes.cri.container-type":"sandbox"/' \\
    "$bundle/config.json"
fi
# A container whose sandbox has ended is stopped already, as runc says it.
if [ "$verb" = kill ]; then
  output=$($runsc "$@" 2>&1)
  status=$?
  case $output in
    *"sandbox is not running"*) echo "container not running" >&2 ;;
    ?*) printf '%s\\n' "$output" >&2 ;;
  esac
  exit $status
fi
exec $runsc "$@"
"""


def wrapper(handler: str, binary: str, flags: dict[str, str]) -> str:
    """The script containerd's runc v2 shim runs as its runc binary."""
    words = [binary, *(f"--{name}={text}" for name, text in flags.items())]
    return WRAPPER.format(header=HEADER.format(handler=handler), command=shlex.quote(" ".join(words)))


def shim_config(handler: str, flags: dict[str, str]) -> str:
    """gVisor shim's runsc.toml: the flags under [runsc_config]."""
    return tomltext.dumps({"runsc_config": dict(flags)}, HEADER.format(handler=handler))
