# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the kubelet's static pod handling (nodeguard lab): not a kubelet.

    python3 static_pods.py [--manifests DIR] [--status FILE] [--logs DIR] [--once]

Run by nodelab-static-pods.service on a lab control plane node (see layout.py). It does, for the
files in the manifests directory, what a test of a static pod manifest editor relies on the kubelet
to do (pkg/kubelet/config/file.go, config.go and the pod workers of Kubernetes v1.32), with
processes instead of containers:

- Every second it lists the directory. Files whose names start with "." are ignored, as the
  kubelet's file source ignores them; so are directories. Every other file is read as the kubelet
  reads one (a YAML or JSON document): a file that is not a v1 Pod with a name and at least one
  container is an error, logged and recorded, and skipped. A stray copy such as
  kube-apiserver.yaml.bak is therefore read too, as the kubelet reads it: it is a second pod of the
  same name, and the kubelet refuses the second pod of a name (config.go filterInvalidPods,
  "duplicate" pod full name; files are taken in name order); so does this runner, loudly.
- For each pod it runs the first container's command followed by its args (command[0] looked up in
  PATH), with NODELAB_MOUNTS set to the container's volumeMounts' mountPaths and
  NODELAB_READONLY_MOUNTS to the read-only ones (colon-separated), after making the hostPath volumes
  as the kubelet does (DirectoryOrCreate: directory 0755; FileOrCreate: empty file 0644; Directory,
  File: must exist, else the pod does not start). The process's output goes to LOGS/<file>.log.
- A process that exits is started again after a back-off of 1 s, doubling up to 10 s (the kubelet's
  crash loop back-off starts at 10 s and caps at 5 min; shortened here so tests run in seconds);
  the back-off restarts from 1 s after a run of 10 s or more.
- The container's startupProbe and livenessProbe (httpGet) are run as the kubelet runs them
  (initialDelaySeconds, periodSeconds, failureThreshold; 200-399 is success; TLS not verified;
  an empty host is 127.0.0.1): after failureThreshold failures in a row the process is killed and
  restarted, as the kubelet restarts a container that fails its probe. The readinessProbe is not
  run: the kubelet uses it for Service endpoints, which the lab has none of, and kubeadm's API
  server probe every second would cost the emulated node a TLS handshake a second.
- A file is read and parsed again only when it changed (inode, size, modification time), so the
  scan every second costs the node almost nothing.
- A file whose pod changes (the parsed document, so a comment or whitespace edit changes nothing,
  as the kubelet compares pods, not bytes) has its process stopped (SIGTERM, then SIGKILL after 5 s)
  and the new one started; a removed file's process is stopped.

State goes to STATUS (default /run/nodelab-static-pods/status.json), rewritten atomically each
second: per file its pod name, pid, state, restarts, last exit, probe results and command line,
or its error. Every decision is one line on stderr (the unit's journal). SIGTERM stops every
process, then the runner.

Runs on Python 3.11 and 3.13 (Debian 12 and 13) with the standard library and PyYAML only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

BACKOFF_START, BACKOFF_MAX, BACKOFF_RESET = 1.0, 10.0, 10.0
STOP_GRACE = 5.0
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(message: str, **values) -> None:
    pairs = "".join(
        f" {key}={json.dumps(value if isinstance(value, (int, float)) else str(value))}"
        for key, value in values.items()
    )
    sys.stderr.write(f"static-pods: {message}{pairs}\n")
    sys.stderr.flush()


# --- reading the manifests ----------------------------------------------------------------------


class ManifestError(Exception):
    """A file that is not a usable static pod."""


def parse_manifest(text: str) -> dict:
    """The pod in text, as the kubelet's file source decodes it; ManifestError if it is not one."""
    import yaml  # noqa: PLC0415

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml where Debian's package has it
    try:
        documents = [document for document in yaml.load_all(text, Loader=loader) if document is not None]
    except yaml.YAMLError as error:
        raise ManifestError(f"invalid YAML: {str(error).splitlines()[0]}") from None
    if len(documents) != 1:
        raise ManifestError(f"expected one document, found {len(documents)}")
    pod = documents[0]
    if not isinstance(pod, dict):
        raise ManifestError("not an object")
    if pod.get("apiVersion") != "v1" or pod.get("kind") != "Pod":
        raise ManifestError(f'not a v1 Pod (apiVersion "{pod.get("apiVersion", "")}", kind "{pod.get("kind", "")}")')
    name = (pod.get("metadata") or {}).get("name")
    if not name or not isinstance(name, str):
        raise ManifestError("metadata.name: Required value")
    containers = (pod.get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers or not isinstance(containers[0], dict):
        raise ManifestError("spec.containers: Required value")
    first = containers[0]
    argv = list(first.get("command") or []) + list(first.get("args") or [])
    if not argv or not all(isinstance(word, str) for word in argv):
        raise ManifestError("spec.containers[0].command: Required value (the stand-in runs no image entrypoint)")
    return pod


# path -> ((inode, size, mtime_ns), (pod, digest) or error text): a file is read and parsed again
# only when it changed, so the runner's once-a-second scan costs the node almost nothing.
_READ: dict = {}


def _read(path: str) -> tuple:
    info = os.stat(path)
    key = (info.st_ino, info.st_size, info.st_mtime_ns)
    cached = _READ.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with open(path, encoding="utf-8") as handle:
            pod = parse_manifest(handle.read())
        value: tuple = (pod, hashlib.sha256(json.dumps(pod, sort_keys=True, default=str).encode()).hexdigest())
    except (OSError, UnicodeDecodeError, ManifestError) as error:
        value = (None, f"could not process manifest file: {error}")
    _READ[path] = (key, value)
    return value


def scan(directory: str) -> tuple:
    """({file: (pod, digest)}, {file: error}): the directory's pods in name order, hidden files
    skipped, invalid files and second pods of a name reported."""
    pods: dict = {}
    errors: dict = {}
    names: dict = {}
    try:
        entries = sorted(os.listdir(directory))
    except OSError as error:
        return {}, {directory: f"cannot list: {error.strerror}"}
    for entry in entries:
        path = os.path.join(directory, entry)
        if entry.startswith(".") or not os.path.isfile(path):
            continue
        try:
            pod, digest = _read(path)
        except OSError as error:
            errors[entry] = f"could not process manifest file: {error}"
            continue
        if pod is None:
            errors[entry] = digest
            continue
        name = pod["metadata"]["name"]
        namespace = pod["metadata"].get("namespace") or "default"
        full = f"{name}_{namespace}"
        if full in names:
            errors[entry] = (
                f'duplicate pod name "{name}" in namespace "{namespace}" (also in {names[full]}): '
                "the kubelet ignores the second pod of a name"
            )
            continue
        names[full] = entry
        pods[entry] = (pod, digest)
    return pods, errors


def mounts_of(pod: dict) -> tuple:
    """(mountPaths, read-only mountPaths, [(volume name, host path, type)]) of the first container."""
    container = pod["spec"]["containers"][0]
    volumes = {volume.get("name"): volume for volume in pod["spec"].get("volumes") or [] if isinstance(volume, dict)}
    paths, readonly, host_paths = [], [], []
    for item in container.get("volumeMounts") or []:
        path = item.get("mountPath")
        if not path:
            continue
        paths.append(path)
        if item.get("readOnly"):
            readonly.append(path)
        volume = volumes.get(item.get("name")) or {}
        if "hostPath" in volume:
            source = volume["hostPath"]
            host_paths.append((item.get("name"), source.get("path"), source.get("type") or ""))
            if source.get("path") != path:
                log("mountPath differs from hostPath; the stand-in sees host paths", volume=item.get("name"))
    return paths, readonly, host_paths


def prepare_host_paths(host_paths: list) -> None:
    """The kubelet's hostPath type checks and creation (pkg/volume/hostpath)."""
    for name, path, kind in host_paths:
        if kind == "DirectoryOrCreate" and not os.path.exists(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
            log("created hostPath directory", volume=name, path=path)
        elif kind == "FileOrCreate" and not os.path.exists(path):
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            with open(path, "a", encoding="utf-8"):
                pass
            os.chmod(path, 0o644)
            log("created hostPath file", volume=name, path=path)
        elif kind == "Directory" and not os.path.isdir(path):
            raise ManifestError(
                f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: {path} is not a directory'
            )
        elif kind == "File" and not os.path.isfile(path):
            raise ManifestError(
                f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: {path} is not a file'
            )


# --- running ------------------------------------------------------------------------------------


@dataclass
class Probe:
    spec: dict
    started: float
    failures: int = 0
    successes: int = 0
    last: str = ""
    next_at: float = 0.0

    def due(self, now: float) -> bool:
        if not self.next_at:
            self.next_at = self.started + float(self.spec.get("initialDelaySeconds", 0))
        return now >= self.next_at

    def record(self, ok: bool, what: str, now: float) -> None:
        self.next_at = now + float(self.spec.get("periodSeconds", 10))
        self.last = what
        if ok:
            self.failures, self.successes = 0, self.successes + 1
        else:
            self.failures += 1

    def failed(self) -> bool:
        return self.failures >= int(self.spec.get("failureThreshold", 3))


def http_probe(spec: dict) -> tuple:
    get = spec.get("httpGet") or {}
    host = get.get("host") or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    url = f"{(get.get('scheme') or 'HTTP').lower()}://{host}:{get.get('port')}{get.get('path') or '/'}"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=min(float(spec.get("timeoutSeconds", 1)), 3.0)) as answer:
            return 200 <= answer.status < 400, f"{answer.status} {url}"
    except urllib.error.HTTPError as error:
        return 200 <= error.code < 400, f"{error.code} {url}"
    except OSError as error:
        return False, f"{url}: {getattr(error, 'reason', error)}"


@dataclass
class Pod:
    file: str
    pod: dict
    digest: str
    log_path: str
    process: subprocess.Popen | None = None
    restarts: int = 0
    backoff: float = BACKOFF_START
    next_start: float = 0.0
    started_at: float = 0.0
    last_exit: str = ""
    state: str = "waiting"
    error: str = ""
    probes: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.pod["metadata"]["name"]

    def argv(self) -> list:
        container = self.pod["spec"]["containers"][0]
        return list(container.get("command") or []) + list(container.get("args") or [])

    def start(self, now: float) -> None:
        argv = self.argv()
        program = shutil.which(argv[0], path=PATH) if "/" not in argv[0] else argv[0]
        if program is None:
            self.fail_start(now, f'exec: "{argv[0]}": executable file not found in $PATH')
            return
        try:
            paths, readonly, host_paths = mounts_of(self.pod)
            prepare_host_paths(host_paths)
        except (OSError, ManifestError) as error:
            self.fail_start(now, str(error))
            return
        environment = {
            "PATH": PATH,
            "LANG": "C.UTF-8",
            "NODELAB_MOUNTS": ":".join(paths),
            "NODELAB_READONLY_MOUNTS": ":".join(readonly),
            "NODELAB_POD": self.name,
        }
        for item in self.pod["spec"]["containers"][0].get("env") or []:
            if isinstance(item, dict) and "name" in item and "value" in item:
                environment[str(item["name"])] = str(item["value"])
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.log_path, "ab") as output:
            output.write(f"--- static-pods: start {' '.join(argv)}\n".encode())
            output.flush()
            self.process = subprocess.Popen(
                [program, *argv[1:]],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=environment,
                start_new_session=True,
            )
        self.started_at, self.state, self.error = now, "running", ""
        container = self.pod["spec"]["containers"][0]
        self.probes = {
            kind: Probe(container[kind], now) for kind in ("startupProbe", "livenessProbe") if kind in container
        }
        log("started", file=self.file, pod=self.name, pid=self.process.pid, restarts=self.restarts)

    def fail_start(self, now: float, why: str) -> None:
        self.state, self.error, self.last_exit = "waiting", why, why
        self.schedule_restart(now, ran=0.0)
        log("could not start", file=self.file, pod=self.name, error=why, retry_in=self.next_start - now)

    def schedule_restart(self, now: float, ran: float) -> None:
        if ran >= BACKOFF_RESET:
            self.backoff = BACKOFF_START
        self.next_start = now + self.backoff
        self.backoff = min(self.backoff * 2, BACKOFF_MAX)
        self.state = "back-off" if self.state != "waiting" else self.state

    def last_log_line(self) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(max(0, os.path.getsize(self.log_path) - 4096))
                lines = [line for line in handle.read().decode(errors="replace").splitlines() if line.strip()]
            return lines[-1] if lines else ""
        except OSError:
            return ""

    def stop(self, why: str) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            self.process = None
            return
        log("stopping", file=self.file, pod=self.name, pid=process.pid, why=why)
        process.terminate()
        try:
            process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            log("SIGKILL after the grace period", file=self.file, pid=process.pid, grace=STOP_GRACE)
            process.kill()
            process.wait()
        self.process = None
        self.state = "stopped"

    def tick(self, now: float) -> None:
        if self.process is not None:
            code = self.process.poll()
            if code is not None:
                ran = now - self.started_at
                self.last_exit = f"exit code {code} after {ran:.1f} s: {self.last_log_line()}"
                self.process = None
                self.restarts += 1
                self.state = "back-off"
                self.schedule_restart(now, ran)
                log(
                    "exited",
                    file=self.file,
                    pod=self.name,
                    code=code,
                    restart_in=round(self.next_start - now, 1),
                    last=self.last_log_line(),
                )
                return
            self.run_probes(now)
            return
        if now >= self.next_start:
            self.start(now)

    def run_probes(self, now: float) -> None:
        startup = self.probes.get("startupProbe")
        for kind, probe in self.probes.items():
            if kind != "startupProbe" and startup is not None and not startup.successes:
                continue
            if kind == "startupProbe" and probe.successes:
                continue
            if not probe.due(now):
                continue
            ok, what = http_probe(probe.spec)
            probe.record(ok, what, now)
            if not ok:
                log("probe failed", file=self.file, probe=kind, result=what, failures=probe.failures)
            if probe.failed():
                log("killing: probe failed failureThreshold times", file=self.file, probe=kind)
                self.stop(f"{kind} failed")
                self.restarts += 1
                self.last_exit = f"killed: {kind} failed {probe.failures} times ({what})"
                self.state = "back-off"
                self.schedule_restart(now, ran=0.0)
                return

    def status(self) -> dict:
        return {
            "pod": self.name,
            "pid": self.process.pid if self.process else None,
            "state": self.state,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "error": self.error,
            "command": self.argv(),
            "log": self.log_path,
            "probes": {
                kind: {"failures": p.failures, "successes": p.successes, "last": p.last}
                for kind, p in self.probes.items()
            },
        }


class Runner:
    def __init__(self, manifests: str, status: str, logs: str):
        self.manifests, self.status_path, self.logs = manifests, status, logs
        self.pods: dict = {}
        self.errors: dict = {}

    def sync(self, now: float) -> None:
        found, errors = scan(self.manifests)
        for entry, error in errors.items():
            if self.errors.get(entry) != error:
                log("ERROR " + error, file=entry)
        self.errors = errors
        for entry in list(self.pods):
            current = self.pods[entry]
            if entry not in found:
                current.stop("manifest removed")
                del self.pods[entry]
                log("pod removed", file=entry, pod=current.name)
            elif found[entry][1] != current.digest:
                current.stop("manifest changed")
                del self.pods[entry]
                log("manifest changed: restarting with the new pod", file=entry, pod=current.name)
        for entry, (pod, digest) in found.items():
            if entry not in self.pods:
                self.pods[entry] = Pod(entry, pod, digest, os.path.join(self.logs, f"{entry}.log"))
                log("pod added", file=entry, pod=pod["metadata"]["name"])
        for pod in self.pods.values():
            pod.tick(now)

    def write_status(self) -> None:
        document = {
            "updated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "manifests": self.manifests,
            "pods": {entry: pod.status() for entry, pod in sorted(self.pods.items())},
            "errors": dict(sorted(self.errors.items())),
        }
        directory = os.path.dirname(self.status_path)
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".status-", dir=directory)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o644)
        os.replace(temporary, self.status_path)

    def stop_all(self) -> None:
        for pod in self.pods.values():
            pod.stop("runner stopping")


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifests", default="/etc/kubernetes/manifests")
    parser.add_argument("--status", default="/run/nodelab-static-pods/status.json")
    parser.add_argument("--logs", default="/var/log/nodelab-static-pods")
    parser.add_argument("--once", action="store_true", help="scan once, write the status, start nothing")
    args = parser.parse_args(argv)
    runner = Runner(args.manifests, args.status, args.logs)
    if args.once:
        found, runner.errors = scan(args.manifests)
        runner.pods = {entry: Pod(entry, pod, digest, "") for entry, (pod, digest) in found.items()}
        runner.write_status()
        print(json.dumps({"pods": {k: v.name for k, v in runner.pods.items()}, "errors": runner.errors}, indent=2))
        return 0
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_unused: stop.set())
    signal.signal(signal.SIGINT, lambda *_unused: stop.set())
    log("stand-in for the kubelet's static pods (nodeguard lab): not a kubelet", manifests=args.manifests)
    while not stop.is_set():
        runner.sync(time.monotonic())
        runner.write_status()
        stop.wait(1.0)
    runner.stop_all()
    runner.write_status()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
