# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make a control plane node's certificates and keys as ``kubeadm init`` (v1.32) makes them, with
the ``openssl`` command, on the host.

    python3 pki.py OUTDIR [--ca-dir DIR] [--node-name NAME] [--advertise-address ADDRESS]

The lab's node images have no openssl (and no Python crypto is used here), so the host makes the
PKI and layout.py installs it on the node. The cluster CA is the lab's existing test CA
(--ca-dir, default ../kubelet/certs: ca.crt and ca.key, the CA the worker fixture trusts); the etcd
CA and the front-proxy CA are new. Every certificate has kubeadm's subject, SANs, key usages and
lifetime (cmd/kubeadm/app/phases/certs/certlist.go, cmd/kubeadm/app/util/pkiutil/pki_helpers.go,
cmd/kubeadm/app/phases/kubeconfig/kubeconfig.go of v1.32):

- CAs: RSA 2048, 10 years, basicConstraints CA:TRUE, keyUsage digitalSignature, keyEncipherment,
  keyCertSign (critical); etcd/ca CN etcd-ca, front-proxy-ca CN front-proxy-ca.
- Leaves: RSA 2048, 1 year, keyUsage digitalSignature, keyEncipherment (critical), CA:FALSE:
  apiserver (CN kube-apiserver, serverAuth, SANs: DNS node name, kubernetes, kubernetes.default,
  kubernetes.default.svc, kubernetes.default.svc.cluster.local; IP 10.96.0.1 and the advertise
  address), apiserver-kubelet-client (CN kube-apiserver-kubelet-client, O kubeadm:cluster-admins,
  clientAuth), front-proxy-client (CN front-proxy-client, clientAuth), etcd/server and etcd/peer
  (CN node name, serverAuth+clientAuth, SANs: DNS localhost and node name; IP advertise address,
  127.0.0.1, ::1), etcd/healthcheck-client (CN kube-etcd-healthcheck-client, clientAuth),
  apiserver-etcd-client (CN kube-apiserver-etcd-client, clientAuth).
- sa.key and sa.pub: an RSA 2048 pair (PKCS#1 private key, PKIX public key).
- The kubeconfigs' client certificates (kubeconfig/<name>.crt and .key, signed by the cluster CA,
  clientAuth): admin (CN kubernetes-admin, O kubeadm:cluster-admins), super-admin (CN
  kubernetes-super-admin, O system:masters), controller-manager (CN system:kube-controller-manager),
  scheduler (CN system:kube-scheduler).
- standin-serving.crt and .key: the self-signed pair the stand-in controller manager and scheduler
  serve with (the real ones generate such a pair in memory when no --tls-cert-file is given).

Private keys are written as kubeadm writes them, "RSA PRIVATE KEY" (``openssl genrsa
-traditional``). params.json records the node name and advertise address the certificates were
made for; layout.py refuses a PKI made for another node. Re-running with the same arguments keeps
every existing file that still verifies against its CA (``openssl verify``) and makes only what
is missing, so the output is stable; other arguments remake the node-specific certificates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_CA_DIR = HERE.parent / "kubelet" / "certs"
CA_DAYS, LEAF_DAYS = 3650, 365
SERVICE_VIP = "10.96.0.1"  # the first address of kubeadm's default serviceSubnet 10.96.0.0/12
SERVER, CLIENT, BOTH = "serverAuth", "clientAuth", "serverAuth,clientAuth"


def leaf_specs(node: str, address: str) -> list:
    """(path, CA, subject, extended key usage, SANs) for every leaf certificate."""
    api_sans = [
        f"DNS:{node}",
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        "DNS:kubernetes.default.svc.cluster.local",
        f"IP:{SERVICE_VIP}",
        f"IP:{address}",
    ]
    etcd_sans = ["DNS:localhost", f"DNS:{node}", f"IP:{address}", "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1"]
    return [
        ("apiserver", "ca", "/CN=kube-apiserver", SERVER, api_sans),
        ("apiserver-kubelet-client", "ca", "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client", CLIENT, []),
        ("front-proxy-client", "front-proxy-ca", "/CN=front-proxy-client", CLIENT, []),
        ("etcd/server", "etcd/ca", f"/CN={node}", BOTH, etcd_sans),
        ("etcd/peer", "etcd/ca", f"/CN={node}", BOTH, etcd_sans),
        ("etcd/healthcheck-client", "etcd/ca", "/CN=kube-etcd-healthcheck-client", CLIENT, []),
        ("apiserver-etcd-client", "etcd/ca", "/CN=kube-apiserver-etcd-client", CLIENT, []),
        ("kubeconfig/admin", "ca", "/O=kubeadm:cluster-admins/CN=kubernetes-admin", CLIENT, []),
        ("kubeconfig/super-admin", "ca", "/O=system:masters/CN=kubernetes-super-admin", CLIENT, []),
        ("kubeconfig/controller-manager", "ca", "/CN=system:kube-controller-manager", CLIENT, []),
        ("kubeconfig/scheduler", "ca", "/CN=system:kube-scheduler", CLIENT, []),
    ]


NODE_SPECIFIC = ("apiserver", "etcd/server", "etcd/peer")


def openssl(*args: str) -> str:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise SystemExit(f"pki: openssl {' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def verifies(cert: Path, ca: Path) -> bool:
    done = subprocess.run(
        ["openssl", "verify", "-CAfile", str(ca), str(cert)], capture_output=True, stdin=subprocess.DEVNULL, check=False
    )
    return done.returncode == 0


def publish(temporary: Path, target: Path, mode: int) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(temporary, mode)
    os.replace(temporary, target)


def key_path(work: Path, name: str) -> Path:
    return work / f"{name.replace('/', '_')}.key"


def pregenerate(work: Path, names: list) -> None:
    """Generate the keys of names at once (one openssl process each): RSA key generation is most of
    the run time, and the processes use every core."""
    processes = [
        subprocess.Popen(
            ["openssl", "genrsa", "-traditional", "-out", str(key_path(work, name)), "2048"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    for process in processes:
        _unused, error = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"pki: openssl genrsa failed: {error.decode(errors='replace').strip()}")


def new_key(work: Path, name: str) -> Path:
    key = key_path(work, name)
    if not key.is_file():
        openssl("genrsa", "-traditional", "-out", str(key), "2048")
    return key


def make_ca(out: Path, work: Path, name: str, common_name: str) -> list:
    key = new_key(work, name)
    cert = work / f"{name.replace('/', '_')}.crt"
    openssl(
        "req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", str(CA_DAYS),
        "-subj", f"/CN={common_name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        "-addext", "subjectKeyIdentifier=hash",
    )  # fmt: skip
    publish(key, out / f"{name}.key", 0o600)
    publish(cert, out / f"{name}.crt", 0o644)
    return [f"{name}.crt", f"{name}.key"]


def make_leaf(out: Path, work: Path, spec: tuple) -> list:
    name, ca, subject, usage, sans = spec
    key = new_key(work, name)
    csr = work / f"{name.replace('/', '_')}.csr"
    cert = work / f"{name.replace('/', '_')}.crt"
    extensions = work / f"{name.replace('/', '_')}.ext"
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={usage}",
        "authorityKeyIdentifier=keyid",
    ]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    extensions.write_text("\n".join(lines) + "\n", encoding="ascii")
    openssl("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
    openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(out / f"{ca}.crt"), "-CAkey", str(out / f"{ca}.key"),
        "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", str(LEAF_DAYS),
        "-extfile", str(extensions), "-out", str(cert),
    )  # fmt: skip
    publish(key, out / f"{name}.key", 0o600)
    publish(cert, out / f"{name}.crt", 0o644)
    return [f"{name}.crt", f"{name}.key"]


def make_serving(out: Path, work: Path) -> list:
    key = new_key(work, "standin-serving")
    cert = work / "standin-serving.crt"
    openssl(
        "req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", str(LEAF_DAYS),
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    )  # fmt: skip
    publish(key, out / "standin-serving.key", 0o600)
    publish(cert, out / "standin-serving.crt", 0o644)
    return ["standin-serving.crt", "standin-serving.key"]


def make(out: Path, ca_dir: Path, node: str, address: str) -> list:
    """Make what is missing or stale under out; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    params = {"node_name": node, "advertise_address": address}
    params_path = out / "params.json"
    old = json.loads(params_path.read_text(encoding="utf-8")) if params_path.is_file() else None
    written: list = []
    for name in ("ca.crt", "ca.key"):
        source = (ca_dir / name).read_bytes()
        if not (out / name).is_file() or (out / name).read_bytes() != source:
            with tempfile.NamedTemporaryFile(dir=out, delete=False) as handle:
                handle.write(source)
            publish(Path(handle.name), out / name, 0o600 if name.endswith(".key") else 0o644)
            written.append(name)
    with tempfile.TemporaryDirectory(prefix="nodelab-pki-") as scratch:
        work = Path(scratch)
        missing = [name for name in ("etcd/ca", "front-proxy-ca", "sa") if not (out / f"{name}.key").is_file()]
        missing += [spec[0] for spec in leaf_specs(node, address) if spec[0] in NODE_SPECIFIC and old != params]
        missing += [spec[0] for spec in leaf_specs(node, address) if not (out / f"{spec[0]}.key").is_file()]
        missing += [] if (out / "standin-serving.key").is_file() else ["standin-serving"]
        pregenerate(work, list(dict.fromkeys(missing)))
        for name, common_name in (("etcd/ca", "etcd-ca"), ("front-proxy-ca", "front-proxy-ca")):
            if not ((out / f"{name}.crt").is_file() and (out / f"{name}.key").is_file()):
                written += make_ca(out, work, name, common_name)
        if not ((out / "sa.key").is_file() and (out / "sa.pub").is_file()):
            key = new_key(work, "sa")
            public = work / "sa.pub"
            openssl("rsa", "-in", str(key), "-pubout", "-out", str(public))
            publish(key, out / "sa.key", 0o600)
            publish(public, out / "sa.pub", 0o600)
            written += ["sa.key", "sa.pub"]
        for spec in leaf_specs(node, address):
            name, ca = spec[0], spec[1]
            cert, key = out / f"{name}.crt", out / f"{name}.key"
            stale = name in NODE_SPECIFIC and old != params
            if stale or not (cert.is_file() and key.is_file()) or not verifies(cert, out / f"{ca}.crt"):
                written += make_leaf(out, work, spec)
        if not ((out / "standin-serving.crt").is_file() and (out / "standin-serving.key").is_file()):
            written += make_serving(out, work)
    if old != params:
        params_path.write_text(json.dumps(params, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append("params.json")
    return written


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", help="where to write the PKI (layout.py --pki reads it)")
    parser.add_argument("--ca-dir", default=str(DEFAULT_CA_DIR), help="the cluster CA: ca.crt and ca.key")
    parser.add_argument("--node-name", default="node1", help="the node's name (the lab's nodes: node1, node2...)")
    parser.add_argument("--advertise-address", default="10.0.2.15", help="the API server's advertise address")
    args = parser.parse_args(argv)
    if shutil.which("openssl") is None:
        raise SystemExit("pki: the openssl command is needed (Debian package openssl)")
    node = args.node_name or socket.gethostname()
    written = make(Path(args.outdir), Path(args.ca_dir), node, args.advertise_address)
    for name in written:
        print(f"pki: wrote {name}")
    if not written:
        print("pki: nothing to change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
