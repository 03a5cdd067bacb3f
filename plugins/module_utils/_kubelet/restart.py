# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Apply a new kubelet configuration and keep the node's kubelet healthy.

The files are written atomically, systemd re-reads changed unit files, and a running kubelet is
restarted and must then answer on its healthz endpoint. When it does not within the timeout, the
previous files are put back and the kubelet restarted on them, and the change fails saying so and
whether the kubelet came back. A kubelet that was not running is not started.
"""

from __future__ import annotations

import os
import time
import typing as t
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from ansible_collections.nodeguard.hardening.plugins.module_utils._files import atomic_write
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.node import CommandError, Node
from ansible_collections.nodeguard.hardening.plugins.module_utils._system.writes import file_attributes

DEFAULT_TIMEOUT = 60
# Consecutive healthy answers, a second apart, before the kubelet counts as healthy: a kubelet that
# starts and then exits on its configuration answers once at most.
HEALTHY_ANSWERS = 3


@dataclass
class Change:
    """The files to write (path -> new text) and the service to restart on them."""

    node: Node
    service: str
    files: dict[str, str] = field(default_factory=dict)
    new_mode: int = 0o600
    units_changed: bool = False
    restart: bool = True
    healthz: t.Callable[[], str] | None = None  # the healthz URL after the change
    timeout: int = DEFAULT_TIMEOUT
    _before: dict[str, tuple[str | None, tuple[int, int, int] | None]] = field(default_factory=dict)

    def run(self) -> None:
        self._before = {path: (self.node.read(path), file_attributes(self.node, path)) for path in self.files}
        for path, text in self.files.items():
            self._write(path, text)
        self._reload()
        if not self.restart:
            return
        self.node.run(["systemctl", "restart", self.service], check=False)
        problem = self._wait()
        if problem is None:
            return
        journal = self._journal()
        self._restore()
        self.node.run(["systemctl", "restart", self.service], check=False)
        again = self._wait()
        state = (
            "the previous configuration is back and the kubelet is healthy again"
            if again is None
            else f"the previous configuration is back but the kubelet is still not healthy ({again})"
        )
        raise CommandError(
            f"{self.service} did not become healthy within {self.timeout} s on the new configuration "
            f"({problem}{'; its log: ' + journal if journal else ''}); {state}"
        )

    def undo(self) -> None:
        """Put the previous files back (a later change of the same run failed)."""
        if not self._before:
            return
        self._restore()
        if self.restart:
            self.node.run(["systemctl", "restart", self.service], check=False)
            self._wait()

    def _write(self, path: str, text: str) -> None:
        attributes = file_attributes(self.node, path)
        target = self.node.path(path)
        atomic_write(self.node.module, target, text, attributes[0] if attributes else self.new_mode)
        if attributes:
            os.chown(target, attributes[1], attributes[2])

    def _restore(self) -> None:
        for path, (text, attributes) in self._before.items():
            target = self.node.path(path)
            if text is None:
                if os.path.lexists(target):
                    os.unlink(target)
                continue
            atomic_write(self.node.module, target, text, attributes[0] if attributes else self.new_mode)
            if attributes:
                os.chown(target, attributes[1], attributes[2])
        self._reload()

    def _reload(self) -> None:
        if self.units_changed:
            self.node.run(["systemctl", "daemon-reload"])

    def _wait(self) -> str | None:
        """None once the kubelet is healthy, else the last problem seen when the time is up."""
        url = self.healthz() if self.healthz else ""
        deadline = time.monotonic() + self.timeout
        answers, problem = 0, "no answer yet"
        while time.monotonic() < deadline:
            problem = self._probe(url)
            answers = answers + 1 if problem is None else 0
            if answers >= HEALTHY_ANSWERS:
                return None
            time.sleep(1)
        return problem

    def _probe(self, url: str) -> str | None:
        if not url:
            _rc, out, _err = self.node.run(["systemctl", "is-active", self.service], check=False)
            return None if out.strip() == "active" else f"the service is {out.strip() or 'not active'}"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(url, timeout=2) as response:
                body = response.read(64).decode("utf-8", "replace").strip()
                return None if response.status == 200 and body == "ok" else f"{url} answered {response.status} {body!r}"
        except urllib.error.HTTPError as exc:
            return f"{url} answered {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"{url}: {reason}"

    def _journal(self) -> str:
        rc, out, _err = self.node.run(
            ["journalctl", "--unit", self.service, "--since", "-2min", "--lines", "3", "--no-pager", "--output", "cat"],
            check=False,
        )
        return " | ".join(line.strip() for line in out.splitlines() if line.strip()) if rc == 0 else ""


def healthz_url(config: t.Any, flags: dict[str, str]) -> str:
    """The kubelet's healthz URL from its configuration, flags first; empty when it is switched off."""
    config = config if isinstance(config, dict) else {}
    port = flags.get("healthz-port", config.get("healthzPort", 10248))
    address = flags.get("healthz-bind-address", config.get("healthzBindAddress", "127.0.0.1"))
    try:
        port = int(port)
    except (TypeError, ValueError):
        return ""
    if port == 0:
        return ""
    address = str(address or "127.0.0.1")
    if address in ("0.0.0.0", ""):
        address = "127.0.0.1"
    elif address == "::":
        address = "::1"
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}/healthz"
