"""A lab of real Debian nodes as qemu virtual machines, for tests and demos.

Commands (each one step):
  build [--image R ... | --all]
                             build node images (cached; rebuilt when a recipe changes)
  up [--name L] [--nodes N | --image R ...] [--operator]
                             boot N nodes of the default image (or one node per --image),
                             wait for SSH, write an inventory, print its path
                             (--operator: log in as sudo user labop on port 2222)
  status [--name L]          show labs, their nodes and whether they answer
  down [--name L | --prefix P | --all]
                             stop nodes and their switch, and the servers of the same
                             names; remove their state
  inventory [--name L]       print the inventory path of a lab that is up
  repo --suite S --package P [--package P ...] [--assume-installed D ...] --dir DIR
                             fetch Debian packages from the mirror (checked, cached) and
                             write them as a flat apt repository in DIR; print DIR
  serve start --name N --root DIR [--port P]
                             serve DIR on 127.0.0.1 (a free port unless given), detached;
                             print the port (a node reaches it as 10.0.2.2:PORT)
  serve stop --name N        stop server N (nothing to do if it is not running)
  serve log --name N         print server N's requests: time client method path status

Images (recipes):
  {recipes}
The -containerd and -kubelet images add containerd, runc and a busybox container image,
{ref}, imported into containerd's k8s.io namespace at boot.

Every node gets an SSH port forwarded on 127.0.0.1 and a second NIC on a private
switch (vde_switch on a unix socket) that all nodes of a lab share; node i has
address 10.77.0.(10+i)/24 there. Nothing touches the host's own network.

A node's apt source for a repository DIR=ROOT/SUITE served from ROOT:
  deb [trusted=yes] http://10.0.2.2:PORT/SUITE ./
down stops the servers of the same names too (down --prefix molecule- stops servers
molecule-*), so a scenario's teardown leaves nothing running.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import debs, lab, oci, recipes, serve
from .host import lab_dir
from .image import build

MAX_NODES = 9


def parser() -> argparse.ArgumentParser:
    known = ", ".join(recipes.names())
    main = argparse.ArgumentParser(
        description=__doc__.format(recipes=known, ref=oci.IMAGE_REF),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = main.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build node images")
    which = p_build.add_mutually_exclusive_group()
    which.add_argument(
        "--image", action="append", help=f"a recipe (repeatable; default {recipes.DEFAULT_IMAGE}): {known}"
    )
    which.add_argument("--all", action="store_true", help="every recipe")
    p_up = sub.add_parser("up", help="boot a lab")
    p_up.add_argument("--name", default="default")
    p_up.add_argument("--nodes", type=int, help=f"that many nodes of the {recipes.DEFAULT_IMAGE} image")
    p_up.add_argument("--image", action="append", help=f"one node of this image, in order (repeatable): {known}")
    p_up.add_argument("--memory", type=int, default=int(os.environ.get("NODELAB_MEMORY", "1024")))
    p_up.add_argument(
        "--operator",
        action="store_true",
        help="reach the nodes as the sudo user labop on guest port 2222 instead of root on port 22",
    )
    p_status = sub.add_parser("status", help="show labs")
    p_status.add_argument("--name")
    p_down = sub.add_parser("down", help="stop a lab and its servers")
    group = p_down.add_mutually_exclusive_group()
    group.add_argument("--name", default="default")
    group.add_argument("--all", action="store_true")
    group.add_argument("--prefix", help="every lab whose name starts with this")
    p_inv = sub.add_parser("inventory", help="print the inventory path of a lab that is up")
    p_inv.add_argument("--name", default="default")
    p_repo = sub.add_parser("repo", help="write Debian packages from the mirror as a flat apt repository")
    p_repo.add_argument("--suite", required=True, choices=debs.SUITES)
    p_repo.add_argument("--package", action="append", required=True, help="a binary package (repeatable)")
    p_repo.add_argument(
        "--assume-installed",
        action="append",
        default=[],
        metavar="PACKAGE",
        help="a package the node already has, which meets a dependency (repeatable)",
    )
    p_repo.add_argument("--dir", type=Path, required=True, help="the repository folder (its other .deb files go)")
    p_serve = sub.add_parser("serve", help="static file servers on 127.0.0.1 for the nodes")
    serve_sub = p_serve.add_subparsers(dest="action", required=True)
    p_start = serve_sub.add_parser("start", help="serve a folder; print the port")
    p_start.add_argument("--name", required=True)
    p_start.add_argument("--root", type=Path, required=True)
    p_start.add_argument("--port", type=int, help="default: a free port")
    serve_sub.add_parser("stop", help="stop a server").add_argument("--name", required=True)
    serve_sub.add_parser("log", help="print a server's requests").add_argument("--name", required=True)
    return main


def node_images(args: argparse.Namespace, error) -> list[str]:
    """The image of each node, from --nodes N or the --image list."""
    if args.nodes is not None and args.image:
        error("give --nodes or --image, not both")
    images = args.image or [recipes.DEFAULT_IMAGE] * (1 if args.nodes is None else args.nodes)
    if not 1 <= len(images) <= MAX_NODES:
        error(f"a lab has 1 to {MAX_NODES} nodes")
    for name in images:
        recipes.recipe(name)
    return images


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if args.command == "build":
        names = args.image or [recipes.DEFAULT_IMAGE]
        for name in names:
            recipes.recipe(name)
        for name in recipes.names() if args.all else names:
            print(build(name), flush=True)
    elif args.command == "up":
        print(lab.up(args.name, node_images(args, cli.error), args.memory, args.operator))
    elif args.command == "status":
        return lab.status(args.name)
    elif args.command == "down":
        if args.prefix:
            lab.down_prefix(args.prefix)
            serve.stop_prefix(args.prefix)
        elif args.all:
            lab.down(None)
            serve.stop_prefix("")
        else:
            lab.down(args.name)
            serve.stop(args.name)
    elif args.command == "inventory":
        path = lab_dir(args.name) / "inventory.yml"
        if not path.exists():
            raise SystemExit(f"nodelab: lab {args.name} is not up")
        print(path)
    elif args.command == "repo":
        print(debs.build(args.suite, args.package, args.dir.resolve(), args.assume_installed))
    elif args.command == "serve":
        return serve_command(args)
    return 0


def serve_command(args: argparse.Namespace) -> int:
    if args.action == "start":
        print(serve.start(args.name, args.root, args.port))
    elif args.action == "stop":
        serve.stop(args.name)
    elif args.action == "log":
        log = serve.server_dir(args.name) / "requests.log"
        if not log.exists():
            raise SystemExit(f"nodelab: no server {args.name}")
        print(log.read_text(encoding="utf-8"), end="")
    return 0
