#!/usr/bin/env python3
"""Print the README's settings table, made from ``config.Settings``; ``--write`` updates it.

.venv/bin/python scripts/settings_table.py [--write]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config.reference import replace_table, settings_table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    if not args.write:
        print(settings_table())
        return 0
    readme = ROOT / "README.md"
    readme.write_text(replace_table(readme.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
