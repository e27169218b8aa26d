"""How schemathesis makes the values of the OpenAPI document's own formats (``e164`` and
``phone-number``, see ``gateway/api/doc_fields.py``): possible numbers in the North American
plan, the one libphonenumber accepts for every area code 2xx-9xx with exchange 2xx-9xx.
Loaded by ``st`` through ``SCHEMATHESIS_HOOKS``."""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

POSSIBLE_NUMBERS = st.builds(
    "+1{}{:02d}{}{:02d}{:04d}".format,
    st.integers(2, 9),
    st.integers(0, 99),
    st.integers(2, 9),
    st.integers(0, 99),
    st.integers(0, 9999),
)

schemathesis.openapi.format("e164", POSSIBLE_NUMBERS)
schemathesis.openapi.format("phone-number", POSSIBLE_NUMBERS)
