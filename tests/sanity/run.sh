#!/usr/bin/env bash
# ansible-test sanity on a staged copy of the tracked files (ansible-test needs the collection
# at .../ansible_collections/nodeguard/hardening, a real directory, not a symlink).
# Usage: tests/sanity/run.sh [extra ansible-test arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${VENV:-$root/.venv}
stage=$(mktemp -d "${TMPDIR:-/tmp}/nodeguard-sanity.XXXXXX")
trap 'rm -rf "$stage"' EXIT
dest=$stage/ansible_collections/nodeguard/hardening
mkdir -p "$dest"
# Tracked files plus new ones not ignored: what a clone of this change would hold.
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$dest")
git -C "$dest" init -q && git -C "$dest" add -A

# ansible-test --venv bootstraps pip with a script it would download; offline, ensurepip does it.
cache=$HOME/.ansible/test/cache
mkdir -p "$cache"
cat > "$cache/get_pip_24_2.py" <<'PY'
import os, subprocess, sys
os.environ.pop("PIP_CONFIG_FILE", None)
subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True, stdout=subprocess.DEVNULL)
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.run([sys.executable, "-m", "pip", "install", *args]).returncode)
PY

cd "$dest"
"$venv/bin/ansible-test" sanity --venv --python "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" "$@"
