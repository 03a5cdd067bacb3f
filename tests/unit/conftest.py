# Copyright (c) nodeguard.hardening contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the collection importable as ansible_collections.nodeguard.hardening.

Under ansible-test the tests run from a staged copy inside .../ansible_collections/nodeguard/hardening/
and the collection loader already serves the package; nothing is changed then. A plain
`pytest tests/unit` from the repository root needs <repo>/.collections (which holds the symlink
ansible_collections/nodeguard/hardening -> repo root) first on sys.path.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

_PROBE = "ansible_collections.nodeguard.hardening.plugins.module_utils._controls"
_COLLECTIONS_DIR = Path(__file__).resolve().parents[2] / ".collections"


def _ensure_collection_importable() -> None:
    before = set(sys.modules)
    try:
        importlib.import_module(_PROBE)
        return
    except ImportError:
        pass
    # Forget what the failed attempt left behind (a namespace package bound to the old path).
    for name in set(sys.modules) - before:
        if name == "ansible_collections" or name.startswith("ansible_collections."):
            del sys.modules[name]
    if not (_COLLECTIONS_DIR / "ansible_collections" / "nodeguard" / "hardening").is_dir():
        raise ImportError(
            f"nodeguard.hardening is not importable and {_COLLECTIONS_DIR} does not link it; "
            "create .collections/ansible_collections/nodeguard/hardening -> repository root"
        )
    sys.path.insert(0, str(_COLLECTIONS_DIR))
    importlib.invalidate_caches()
    importlib.import_module(_PROBE)


_ensure_collection_importable()
