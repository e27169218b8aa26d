#!/usr/bin/env python3
"""Print the table of docs/reliability.md, made from ``tests/reliability/rows.py``; ``--write``
updates the document.

.venv/bin/python scripts/reliability_table.py [--write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.reliability.rows import render, replace_table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update docs/reliability.md")
    args = parser.parse_args()
    if not args.write:
        print(render(), end="")
        return 0
    document = ROOT / "docs" / "reliability.md"
    document.write_text(replace_table(document.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
