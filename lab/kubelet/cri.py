# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A minimal CRI client for a lab node: runs one pod through containerd's CRI plugin, as a kubelet would.

    python3 cri.py [--endpoint URI] version
    python3 cri.py [--endpoint URI] status [--verbose]
    python3 cri.py [--endpoint URI] run [--handler NAME] [--image REF] [--timeout SECONDS]
                                        [--cgroup-parent PATH] -- COMMAND [ARG...]

Runs on the node as root with Debian's python3 and python3-grpcio; no kubelet and no crictl exist
there. The endpoint defaults to containerd's socket. ``run`` makes a pod sandbox with the runtime
handler given ("" is containerd's default handler, runc; the sandbox's image is the CRI plugin's
sandbox_image) in the node's network namespace (NamespaceOption network NODE, so no CNI plugin is
needed) under the cgroup parent /nodelab-cri.slice, creates and starts one container of the image
(busybox by default) that sleeps, runs COMMAND in it with ExecSync (at most --timeout seconds, the
deadline of each call too), prints one JSON object on standard output:

    {"handler", "exit_code", "stdout", "stderr", "pod_id", "container_id", "seconds"}

(``exit_code``, ``stdout``, ``stderr``: COMMAND's; ``seconds``: how long each call took) and always
stops and removes the container and the pod, also when a call fails or the process gets SIGTERM.
It exits 0 when every call succeeded, whatever COMMAND's own exit code. When a call fails it prints
the call, the gRPC status code and details (and a google.rpc.Status from the trailers, if any) on
standard error, then the pod and container IDs and the timings, and exits 1; the JSON object is
printed only when COMMAND ran. A clean-up call that fails is reported the same way. ``version``
and ``status`` print the runtime's answer as JSON.

The messages are encoded by hand (a small protobuf wire encoder and decoder below) and sent with
grpcio's generic unary calls: no generated stubs, no protoc. Every field number below is the one
of k8s.io/cri-api pkg/apis/runtime/v1/api.proto (package runtime.v1), which containerd 1.6 and 1.7
serve; the message and field names are given beside each number.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import uuid
from collections.abc import Iterable
from typing import Any

try:
    import grpc
except ImportError:  # the wire format below is usable (and testable) without it
    grpc = None

ENDPOINT = "unix:///run/containerd/containerd.sock"
IMAGE = "localhost/nodelab/busybox:latest"
RUNTIME = "/runtime.v1.RuntimeService/"
IMAGES = "/runtime.v1.ImageService/"
CRI_VERSION = "v1"
# The pods' parent cgroup. containerd turns a parent whose last element ends in ".slice" into
# runc's systemd form (slice:cri-containerd:ID) when the runtime uses SystemdCgroup = true, as the
# kubelet's systemd cgroup driver names pods; with cgroupfs it is a plain directory.
CGROUP_PARENT = "/nodelab-cri.slice"
# What the container runs until the command is executed in it; the clean-up stops it far earlier.
SLEEP = ["/bin/sleep", "3600"]
MAX_MESSAGE = 32 * 1024 * 1024  # containerd caps ExecSync output at 16 MiB per stream
# Seconds for each clean-up call at most: stopping and removing takes a second or two, even with
# gVisor under emulation; a runtime that never reports the container's end should not hold a test
# for four times --timeout.
CLEAN_UP_SECONDS = 60

# NamespaceMode (api.proto enum): POD = 0, CONTAINER = 1, NODE = 2, TARGET = 3.
POD, CONTAINER, NODE = 0, 1, 2

# --- protobuf wire format -------------------------------------------------------------------------

VARINT, LENGTH = 0, 2  # wire types; fixed64 (1) and fixed32 (5) are only skipped when decoding


class Message(list):
    """A protobuf message to encode: (field number, value) pairs, in field order.

    Values: str (UTF-8) and bytes are length-delimited; bool and int are varints (negative ints as
    64-bit two's complement, as int32/int64/enum are); a Message is a nested message; a list or
    tuple is a repeated field of those; a dict is a map<string, string>. Empty strings, zero ints,
    False and empty containers are left out, as proto3 leaves out default values; a nested
    Message is always written, even when empty."""


Value = str | bytes | int | bool | Message | list | tuple | dict


def varint(number: int) -> bytes:
    if number < 0:
        number += 1 << 64
    out = bytearray()
    while True:
        low = number & 0x7F
        number >>= 7
        if number:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def tag(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def delimited(field: int, data: bytes) -> bytes:
    return tag(field, LENGTH) + varint(len(data)) + data


def encode_field(field: int, value: Value) -> bytes:
    if isinstance(value, Message):
        return delimited(field, encode(value))
    if isinstance(value, bool):
        return tag(field, VARINT) + varint(1) if value else b""
    if isinstance(value, int):
        return tag(field, VARINT) + varint(value) if value else b""
    if isinstance(value, str):
        return delimited(field, value.encode()) if value else b""
    if isinstance(value, bytes):
        return delimited(field, value) if value else b""
    if isinstance(value, dict):
        # A map<K, V> is a repeated message of entries with key = 1 and value = 2.
        return b"".join(delimited(field, encode(Message([(1, k), (2, v)]))) for k, v in sorted(value.items()))
    if isinstance(value, (list, tuple)):
        # Repeated strings and messages: one field each, empty strings too (nothing here sends
        # repeated numbers, which proto3 would pack).
        return b"".join(repeated(field, item) for item in value)
    raise TypeError(f"cannot encode {type(value).__name__} in field {field}")


def repeated(field: int, item: str | bytes | Message) -> bytes:
    if isinstance(item, Message):
        return delimited(field, encode(item))
    return delimited(field, item.encode() if isinstance(item, str) else item)


def encode(message: Iterable[tuple[int, Value]]) -> bytes:
    return b"".join(encode_field(field, value) for field, value in message)


def read_varint(data: bytes, offset: int) -> tuple[int, int]:
    number = shift = 0
    while True:
        if offset >= len(data):
            raise ValueError("truncated varint")
        byte = data[offset]
        offset += 1
        number |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return number, offset
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def decode(data: bytes) -> dict[int, list[int | bytes]]:
    """The fields of a message: number -> values in wire order (varints as unsigned ints,
    length-delimited fields as bytes, to be decoded further as the schema says)."""
    fields: dict[int, list[int | bytes]] = {}
    offset = 0
    while offset < len(data):
        key, offset = read_varint(data, offset)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, offset = read_varint(data, offset)
        elif wire == LENGTH:
            size, offset = read_varint(data, offset)
            if offset + size > len(data):
                raise ValueError(f"field {field} runs past the end of the message")
            value, offset = data[offset : offset + size], offset + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, offset = data[offset : offset + size], offset + size
        else:
            raise ValueError(f"unsupported wire type {wire} in field {field}")
        fields.setdefault(field, []).append(value)
    return fields


def last(fields: dict, number: int, default: Any = None) -> Any:
    """The value of a singular field (the last one on the wire wins, as protobuf says)."""
    return fields[number][-1] if number in fields else default


def text(fields: dict, number: int) -> str:
    return last(fields, number, b"").decode("utf-8", "replace")


def int32(fields: dict, number: int) -> int:
    """An int32 field: negative values come as 64-bit two's complement varints."""
    value = last(fields, number, 0) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def string_map(fields: dict, number: int) -> dict[str, str]:
    entries = (decode(entry) for entry in fields.get(number, []))
    return {text(entry, 1): text(entry, 2) for entry in entries}


# --- the CRI messages this client sends (runtime.v1, api.proto) ------------------------------------


def namespace_option(network: int, pid: int) -> Message:
    # NamespaceOption: network = 1, pid = 2, ipc = 3 (POD, the zero value, left out).
    return Message([(1, network), (2, pid)])


def pod_config(name: str, uid: str, cgroup_parent: str) -> Message:
    return Message(
        [
            # PodSandboxConfig.metadata = 1: PodSandboxMetadata name = 1, uid = 2, namespace = 3, attempt = 4.
            (1, Message([(1, name), (2, uid), (3, "nodelab"), (4, 0)])),
            # PodSandboxConfig.hostname = 2: may stay empty with the node's network namespace.
            # PodSandboxConfig.labels = 6 (map<string, string>).
            (6, {"io.nodeguard.lab/client": "cri.py"}),
            # PodSandboxConfig.linux = 8: LinuxPodSandboxConfig cgroup_parent = 1, security_context = 2;
            # LinuxSandboxSecurityContext.namespace_options = 1: the node's network, the pod's PIDs.
            (8, Message([(1, cgroup_parent), (2, Message([(1, namespace_option(NODE, POD))]))])),
        ]
    )


def container_config(image: str, command: list[str]) -> Message:
    return Message(
        [
            # ContainerConfig.metadata = 1: ContainerMetadata name = 1, attempt = 2.
            (1, Message([(1, "probe"), (2, 0)])),
            # ContainerConfig.image = 2: ImageSpec image = 1.
            (2, Message([(1, image)])),
            # ContainerConfig.command = 3 (repeated string).
            (3, command),
            # ContainerConfig.labels = 9 (map<string, string>).
            (9, {"io.nodeguard.lab/client": "cri.py"}),
            # ContainerConfig.linux = 15: LinuxContainerConfig security_context = 2;
            # LinuxContainerSecurityContext.namespace_options = 3: as the kubelet sets them for a
            # pod with hostNetwork (network NODE) and its own PID namespace (pid CONTAINER).
            (15, Message([(2, Message([(3, namespace_option(NODE, CONTAINER))]))])),
        ]
    )


# --- calls ----------------------------------------------------------------------------------------


class CallFailed(Exception):
    def __init__(self, method: str, error: Exception):
        self.method = method
        self.error = error
        super().__init__(describe(method, error))


def status_details(error: Exception) -> list[str]:
    """The google.rpc.Status in the trailers, if the server sent one: its message and the type
    of each detail (Status: code = 1, message = 2, details = 3; Any: type_url = 1, value = 2)."""
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    lines = []
    for key, value in trailers or ():
        if key == "grpc-status-details-bin" and isinstance(value, bytes):
            status = decode(value)
            lines.append(f"status message: {text(status, 2)}")
            lines.extend(f"status detail: {text(decode(item), 1)}" for item in status.get(3, []))
    return lines


def describe(method: str, error: Exception) -> str:
    code = error.code() if hasattr(error, "code") else None
    details = error.details() if hasattr(error, "details") else str(error)
    name = code.name if code is not None else "UNKNOWN"
    return "\n".join([f"cri: {method} failed: {name}: {details}", *status_details(error)])


class Client:
    def __init__(self, endpoint: str, timeout: float):
        if grpc is None:
            raise SystemExit("cri: no grpc module: install python3-grpcio")
        self.timeout = timeout
        self.channel = grpc.insecure_channel(
            endpoint,
            options=[("grpc.max_receive_message_length", MAX_MESSAGE), ("grpc.max_send_message_length", MAX_MESSAGE)],
        )

    def close(self) -> None:
        self.channel.close()

    def call(self, method: str, request: Message, timeout: float | None = None) -> dict:
        service = IMAGES if method.startswith("Image") else RUNTIME
        stub = self.channel.unary_unary(
            service + method,
            request_serializer=lambda message: message,
            response_deserializer=lambda message: message,
        )
        try:
            answer = stub(encode(request), timeout=timeout or self.timeout)
        except grpc.RpcError as error:
            raise CallFailed(method, error) from error
        return decode(answer)


def version(client: Client) -> dict:
    # VersionRequest.version = 1; VersionResponse: version = 1, runtime_name = 2,
    # runtime_version = 3, runtime_api_version = 4.
    answer = client.call("Version", Message([(1, CRI_VERSION)]))
    return {
        "version": text(answer, 1),
        "runtime_name": text(answer, 2),
        "runtime_version": text(answer, 3),
        "runtime_api_version": text(answer, 4),
    }


def status(client: Client, verbose: bool) -> dict:
    # StatusRequest.verbose = 1; StatusResponse: status = 1 (RuntimeStatus.conditions = 1, each
    # RuntimeCondition type = 1, status = 2, reason = 3, message = 4), info = 2 (map).
    answer = client.call("Status", Message([(1, verbose)]))
    conditions = [decode(item) for item in decode(last(answer, 1, b"")).get(1, [])]
    info = {}
    for key, value in string_map(answer, 2).items():
        try:
            info[key] = json.loads(value)
        except ValueError:
            info[key] = value
    return {
        "conditions": [
            {"type": text(c, 1), "status": bool(last(c, 2, 0)), "reason": text(c, 3), "message": text(c, 4)}
            for c in conditions
        ],
        "info": info,
    }


def image_present(client: Client, image: str) -> bool:
    # ImageStatusRequest.image = 1 (ImageSpec.image = 1); ImageStatusResponse.image = 1, absent
    # when the image is not there.
    return 1 in client.call("ImageStatus", Message([(1, Message([(1, image)]))]))


class Run:
    """One pod with one container; clean_up() undoes whatever was made."""

    def __init__(self, client: Client, handler: str, image: str, cgroup_parent: str):
        self.client = client
        self.handler = handler
        self.image = image
        self.cgroup_parent = cgroup_parent
        self.pod_id = ""
        self.container_id = ""
        self.seconds: dict[str, float] = {}

    def timed(self, step: str, method: str, request: Message, timeout: float | None = None) -> dict:
        start = time.monotonic()
        try:
            return self.client.call(method, request, timeout)
        finally:
            self.seconds[step] = round(time.monotonic() - start, 2)

    def execute(self, command: list[str], timeout: int) -> dict:
        if not image_present(self.client, self.image):
            raise SystemExit(
                f"cri: image {self.image} is not in containerd's k8s.io namespace "
                "(systemctl start nodelab-import-image.service imports the lab's images)"
            )
        suffix = uuid.uuid4().hex[:10]
        config = pod_config(f"cri-{suffix}", str(uuid.uuid4()), self.cgroup_parent)
        # RunPodSandboxRequest: config = 1, runtime_handler = 2; RunPodSandboxResponse.pod_sandbox_id = 1.
        answer = self.timed("run_pod_sandbox", "RunPodSandbox", Message([(1, config), (2, self.handler)]))
        self.pod_id = text(answer, 1)
        # CreateContainerRequest: pod_sandbox_id = 1, config = 2, sandbox_config = 3;
        # CreateContainerResponse.container_id = 1.
        request = Message([(1, self.pod_id), (2, container_config(self.image, SLEEP)), (3, config)])
        self.container_id = text(self.timed("create_container", "CreateContainer", request), 1)
        # StartContainerRequest.container_id = 1.
        self.timed("start_container", "StartContainer", Message([(1, self.container_id)]))
        # ExecSyncRequest: container_id = 1, cmd = 2, timeout = 3 (seconds);
        # ExecSyncResponse: stdout = 1, stderr = 2 (bytes), exit_code = 3 (int32).
        request = Message([(1, self.container_id), (2, command), (3, timeout)])
        answer = self.timed("exec_sync", "ExecSync", request, timeout + 10)
        return {
            "handler": self.handler,
            "exit_code": int32(answer, 3),
            "stdout": last(answer, 1, b"").decode("utf-8", "replace"),
            "stderr": last(answer, 2, b"").decode("utf-8", "replace"),
            "pod_id": self.pod_id,
            "container_id": self.container_id,
        }

    def clean_up(self) -> list[str]:
        """Stop and remove the container and the pod; the failures, as messages. A second SIGTERM
        does not cut it short."""
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        failures = []
        steps = []
        if self.container_id:
            # StopContainerRequest: container_id = 1, timeout = 2 (0: kill at once);
            # RemoveContainerRequest.container_id = 1.
            steps += [
                ("stop_container", "StopContainer", Message([(1, self.container_id), (2, 0)])),
                ("remove_container", "RemoveContainer", Message([(1, self.container_id)])),
            ]
        if self.pod_id:
            # StopPodSandboxRequest.pod_sandbox_id = 1; RemovePodSandboxRequest.pod_sandbox_id = 1.
            steps += [
                ("stop_pod_sandbox", "StopPodSandbox", Message([(1, self.pod_id)])),
                ("remove_pod_sandbox", "RemovePodSandbox", Message([(1, self.pod_id)])),
            ]
        timeout = min(self.client.timeout, CLEAN_UP_SECONDS)
        for step, method, request in steps:
            try:
                self.timed(step, method, request, timeout)
            except CallFailed as failure:
                failures.append(str(failure))
        return failures


def terminate(signum: int, _frame: object) -> None:
    """SIGTERM (a test's timeout, say) ends the run through the clean-up."""
    raise SystemExit(f"cri: stopped by signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default=ENDPOINT, help=f"the CRI socket (default {ENDPOINT})")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="the runtime's name and versions (Version)")
    p_status = sub.add_parser("status", help="the runtime's conditions (Status); --verbose adds its config")
    p_status.add_argument("--verbose", action="store_true")
    p_run = sub.add_parser("run", help="run COMMAND in a container of a new pod, then remove both")
    p_run.add_argument("--handler", default="", help='the runtime handler ("" is the default, runc)')
    p_run.add_argument("--image", default=IMAGE, help=f"default {IMAGE}")
    p_run.add_argument("--timeout", type=int, default=120, help="seconds for each call (default 120)")
    p_run.add_argument("--cgroup-parent", default=CGROUP_PARENT, help=f"the pod's cgroup parent ({CGROUP_PARENT})")
    p_run.epilog = "COMMAND follows a -- after the options."
    words = sys.argv[1:] if argv is None else list(argv)
    split = words.index("--") if "--" in words else len(words)
    args, command = parser.parse_args(words[:split]), words[split + 1 :]
    if args.command == "run" and not command:
        parser.error("run needs a command after --")
    if args.command != "run" and command:
        parser.error(f"{args.command} takes no command")

    client = Client(args.endpoint, getattr(args, "timeout", 30))
    try:
        if args.command == "version":
            print(json.dumps(version(client), indent=2))
            return 0
        if args.command == "status":
            print(json.dumps(status(client, args.verbose), indent=2))
            return 0
        signal.signal(signal.SIGTERM, terminate)
        run = Run(client, args.handler, args.image, args.cgroup_parent)
        failures: list[str] = []
        result = None
        try:
            result = run.execute(command, args.timeout)
        except CallFailed as failure:
            failures.append(str(failure))
        finally:
            failures += run.clean_up()
        if result is not None:
            print(json.dumps({**result, "seconds": run.seconds}, indent=2))
        for failure in failures:
            print(failure, file=sys.stderr)
        if failures and result is None:
            print(
                f"cri: pod {run.pod_id or '-'}, container {run.container_id or '-'}, seconds {json.dumps(run.seconds)}",
                file=sys.stderr,
            )
        return 1 if failures else 0
    except CallFailed as failure:
        print(failure, file=sys.stderr)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
