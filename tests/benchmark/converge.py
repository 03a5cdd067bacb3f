"""Benchmark: per node and role, wall time and module calls of an audit, a converge, a no-change
re-run and an audit after hardening.

Boots fresh lab nodes (or uses --inventory) and runs, in order: the audit of the first node alone,
the audit of every node (with several nodes, the ratio of the two shows whether nodes are audited
in parallel), a converge (playbooks/harden.yml), a re-run with nothing to change, and an audit.
With --mitogen (needs `pip install -r requirements/mitogen.txt`) it adds a re-run on mitogen.

Usage: python3 tests/benchmark/converge.py [--nodes N | --inventory FILE] [--mitogen]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(ROOT / "lab" / "nodelab.py")]
# The ansible-playbook of the interpreter running this script, so `.venv/bin/python` suffices.
PLAYBOOK = str(next((p for p in [Path(sys.executable).parent / "ansible-playbook"] if p.exists()), "ansible-playbook"))


def playbook(
    inventory: str,
    label: str,
    extra_env: dict[str, str],
    workdir: Path,
    name: str = "harden",
    limit: str = "all",
    forks: int = 1,
) -> dict:
    out = workdir / f"{label}.json"
    env = {
        **os.environ,
        "ANSIBLE_CALLBACK_PLUGINS": str(ROOT / "tests" / "benchmark" / "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "module_calls",
        "NODEGUARD_BENCH_OUT": str(out),
        "NODEGUARD_REPORT_DIR": str(workdir / f"reports-{label}"),
        **extra_env,
    }
    started = time.monotonic()
    subprocess.run(
        [PLAYBOOK, "-i", inventory, "--limit", limit, "--forks", str(forks), str(ROOT / "playbooks" / f"{name}.yml")],
        cwd=ROOT,
        env=env,
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    total = time.monotonic() - started
    hosts = json.loads(out.read_text(encoding="utf-8"))
    return {"label": label, "total": total, "hosts": hosts}


def host_count(inventory: str) -> int:
    """How many hosts the inventory holds (``ansible all --list-hosts``)."""
    listing = subprocess.run(
        [str(Path(PLAYBOOK).with_name("ansible")), "all", "-i", inventory, "--list-hosts"],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    return max(1, len([line for line in listing.splitlines()[1:] if line.strip()]))


def mitogen_env() -> dict[str, str]:
    try:
        import ansible_mitogen  # noqa: PLC0415  (optional)
    except ImportError:
        sys.exit("--mitogen needs: pip install -r requirements/mitogen.txt")
    strategy = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"
    return {"ANSIBLE_STRATEGY_PLUGINS": str(strategy), "ANSIBLE_STRATEGY": "mitogen_linear"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--inventory")
    parser.add_argument("--mitogen", action="store_true")
    args = parser.parse_args()
    extra = mitogen_env() if args.mitogen else {}
    with tempfile.TemporaryDirectory(prefix="nodeguard-bench-") as tmp:
        workdir = Path(tmp)
        inventory = args.inventory
        if not inventory:
            inventory = subprocess.run(
                [*LAB, "up", "--name", "bench", "--nodes", str(args.nodes), "--operator"],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                text=True,
            ).stdout.split()[-1]
        try:
            first = "node1" if not args.inventory else "all[0]"
            # Forks set to the node count: every node is worked on at once.
            forks = host_count(inventory)
            runs = [
                playbook(inventory, "audit, one node", {}, workdir, "audit", first),
                playbook(inventory, "audit", {}, workdir, "audit", forks=forks),
                playbook(inventory, "converge", {}, workdir, forks=forks),
                playbook(inventory, "re-run", {}, workdir, forks=forks),
                playbook(inventory, "audit after", {}, workdir, "audit", forks=forks),
            ]
            if extra:
                runs.append(playbook(inventory, "re-run (mitogen)", extra, workdir, forks=forks))
        finally:
            if not args.inventory:
                subprocess.run([*LAB, "down", "--name", "bench"], check=False, stdin=subprocess.DEVNULL)
    roles = sorted({role for run in runs for row in run["hosts"].values() for role in row["roles"]})
    header = f"{'node':<8} {'run':<17} {'wall s':>7} {'module calls':>13} " + " ".join(f"{r:>8}" for r in roles)
    print(f"\n{header}\n{'':<8} {'':<17} {'':>7} {'on the node':>13} " + " ".join(f"{'calls':>8}" for _unused in roles))
    for run in runs:
        for host, row in sorted(run["hosts"].items()):
            per_role = " ".join(f"{row['roles'].get(r, 0):>8}" for r in roles)
            print(f"{host:<8} {run['label']:<17} {row['seconds']:>7.1f} {row['node_calls']:>13} {per_role}")
    for run in runs:
        print(f"playbook wall time, {run['label']}: {run['total']:.1f} s")
    nodes = len(runs[1]["hosts"])
    if nodes > 1:
        ratio = runs[1]["total"] / runs[0]["total"]
        print(
            f"audit of {nodes} nodes (forks {nodes}): {runs[1]['total']:.1f} s against {runs[0]['total']:.1f} s "
            f"for one node, {ratio:.2f} times (budget: less than 2)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
