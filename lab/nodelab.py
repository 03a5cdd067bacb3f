"""The lab's command line: python3 lab/nodelab.py build|up|status|down|inventory|repo|serve (see labvm/cli.py)."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script from anywhere: the package lies beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labvm.cli import main

if __name__ == "__main__":
    sys.exit(main())
