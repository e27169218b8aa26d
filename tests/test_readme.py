"""The README says what the code does: every setting in its table (generated from the model),
every route and permission in its API table."""

from __future__ import annotations

import re
from pathlib import Path

from config.reference import END_MARK, START_MARK, settings_table
from gateway.api.permissions import PERMISSIONS
from gateway.api.routes import ROUTES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_the_settings_table_equals_the_settings_model() -> None:
    block = README.split(START_MARK, 1)[1].split(END_MARK, 1)[0].strip()
    assert block == settings_table(), "run scripts/settings_table.py --write"


def test_every_route_is_in_the_api_table() -> None:
    api = README.split("## The API", 1)[1].split("### The session WebSocket", 1)[0]
    for route in ROUTES:
        path = re.sub(r"\{[a-z_]+\}", "{id}", route.path)
        assert f"`{path}`" in api, f"{route.method} {path} is missing from the README"
    for permission in PERMISSIONS:
        assert f"`{permission}`" in api
