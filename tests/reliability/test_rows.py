"""docs/reliability.md is the table of ``rows.py``, every row is there once, and every test it
names exists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.reliability.rows import ROWS, node_ids, replace_table

ROOT = Path(__file__).resolve().parents[2]


def test_all_28_rows_in_order() -> None:
    assert [row.number for row in ROWS] == list(range(1, 29))
    for row in ROWS:
        assert row.status == "open" or row.tests, row.number
        assert row.status == "covered" or row.note, row.number


def test_every_named_test_exists() -> None:
    for node_id in sorted(node_ids()):
        path, name = node_id.split("::")
        source = (ROOT / path).read_text()
        assert re.search(rf"^(async )?def {name}\(", source, re.MULTILINE), node_id


def test_the_document_is_the_table() -> None:
    document = (ROOT / "docs" / "reliability.md").read_text()
    assert replace_table(document) == document, (
        "docs/reliability.md is stale: run .venv/bin/python scripts/reliability_table.py --write"
    )
