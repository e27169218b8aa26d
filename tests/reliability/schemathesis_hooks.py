"""What schemathesis needs beyond the served document (tests/reliability/test_schemathesis.py).
Loaded by ``st`` through ``SCHEMATHESIS_HOOKS``.

**Formats.** How to make values of the document's own formats (``gateway/api/doc_fields.py``):
``e164`` and ``phone-number`` are possible numbers in the North American plan, the one
libphonenumber accepts for every area code 2xx-9xx with exchange 2xx-9xx; ``time-zone`` an
IANA name; ``origin`` an http(s) origin.

**Positive data acceptance, less what no schema can state.** A body the document calls valid
must be accepted, except where the server's answer depends on stored rows, not on the body (an
id naming no row; the referenced assistant's provider: which overrides it can honour, which
tools it has; whether a ``from`` number is routed to Kura; the stored kind of a key being
changed), or on a rule JSON Schema has no word for (transfer destinations' names differ:
``uniqueItems`` compares whole items). ``positive_data_acceptance_with_state`` takes a 422 to
a valid body when, and only when, every field it names is one of those (``BEYOND_SCHEMA``, per
operation); any other answer is judged as the built-in check judges it. Rules the schema can
state are in the document instead (``if``/``then`` on a new key's kind, a session's mode, a
call's voicemail; formats; enums).
"""

from __future__ import annotations

import json
import zoneinfo
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

POSSIBLE_NUMBERS = st.builds(
    "+1{}{:02d}{}{:02d}{:04d}".format,
    st.integers(2, 9),
    st.integers(0, 99),
    st.integers(2, 9),
    st.integers(0, 99),
    st.integers(0, 9999),
)
ORIGINS = st.builds(
    "{}://{}.example{}".format,
    st.sampled_from(["http", "https"]),
    st.from_regex(r"\A[a-z][a-z0-9-]{0,20}\Z"),
    st.sampled_from(["", ":8080", ":443"]),
)

schemathesis.openapi.format("e164", POSSIBLE_NUMBERS)
schemathesis.openapi.format("phone-number", POSSIBLE_NUMBERS)
schemathesis.openapi.format("time-zone", st.sampled_from(sorted(zoneinfo.available_timezones())))
schemathesis.openapi.format("origin", ORIGINS)

# Per operation, the body fields whose validity the server decides from stored rows, or by a
# rule no schema states.
OVERRIDES_BY_PROVIDER = {"tools", "voice", "vad_threshold", "context_window"}
UNIQUE_NAMES = {"transfer_destinations"}
BEYOND_SCHEMA: dict[str, set[str]] = {
    "POST /api/v1/sessions": {"assistant_id", *OVERRIDES_BY_PROVIDER},
    "POST /api/v1/calls": {"assistant_id", "from", "machine_detection"},
    "POST /api/v1/admin/numbers": {"assistant_id"},
    "PATCH /api/v1/admin/numbers/{number_id}": {"assistant_id"},
    "POST /api/v1/admin/keys": {"assistant_ids"},
    "PATCH /api/v1/admin/keys/{key_id}": {
        "permissions", "allowed_origins", "assistant_ids", "session_modes",
    },
    "POST /api/v1/assistants": UNIQUE_NAMES,
    "PATCH /api/v1/assistants/{assistant_id}": UNIQUE_NAMES,
}  # fmt: skip


def _named_fields(response: schemathesis.Response) -> set[str] | None:
    try:
        details = json.loads(response.content)["error"]["details"]
        return {str(d["field"]).split(".")[0] for d in details}
    except (ValueError, KeyError, TypeError):
        return None


@schemathesis.check
def positive_data_acceptance_with_state(
    ctx: schemathesis.CheckContext,
    response: schemathesis.Response,
    case: schemathesis.Case[Any],
) -> bool | None:
    """The built-in ``positive_data_acceptance``, but for a 422 naming only fields of
    ``BEYOND_SCHEMA``."""
    if response.status_code == 422:
        beyond = BEYOND_SCHEMA.get(f"{case.method.upper()} {case.path}", set())
        named = _named_fields(response)
        if named and named <= beyond:
            return None
    return positive_data_acceptance(ctx, response, case)
