"""The reliability suite: each test holds one row of docs/reliability.md at its pass figure.

Every test here, and every test docs/reliability.md names elsewhere, is marked
``reliability`` by the root ``conftest.py`` (``pytest -m reliability`` runs the suite). The
gateway fixtures are the gateway suite's own.
"""

from __future__ import annotations

from tests.gateway.conftest import gateway, virtual_gateway
from tests.gateway.telephony.conftest import phone_gateway, telnyx, telnyx_gateway, twilio

__all__ = ["gateway", "phone_gateway", "telnyx", "telnyx_gateway", "twilio", "virtual_gateway"]
