"""The reliability suite: each test holds one row of docs/reliability.md at its pass figure.

Every test here is marked ``reliability`` (``pytest -m reliability`` runs the suite alone).
The gateway fixtures are the gateway suite's own.
"""

from __future__ import annotations

import pytest

from tests.gateway.conftest import gateway, virtual_gateway
from tests.gateway.telephony.conftest import phone_gateway, telnyx, telnyx_gateway, twilio

__all__ = ["gateway", "phone_gateway", "telnyx", "telnyx_gateway", "twilio", "virtual_gateway"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.reliability)
