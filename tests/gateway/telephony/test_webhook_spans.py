"""Carrier webhooks traced: call SID and session id on the span, never the phone numbers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import tracing
from tests.gateway.telephony.conftest import (
    CALLER,
    NUMBER,
    FakeTwilio,
    stream_parameters,
    twiml_of,
)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    with tracing.configured(exporter):
        yield exporter


async def test_voice_webhook_span_has_call_sid_and_session_not_numbers(
    twilio: FakeTwilio, spans: InMemorySpanExporter
) -> None:
    fields = twilio.call_fields()
    document = await twiml_of(await twilio.voice(fields))
    session_id = stream_parameters(document)["session_id"]
    await twilio.status(twilio.call_fields(fields["CallSid"], CallStatus="completed"))
    # (The provider connect the voice webhook starts early has its own span.)
    voice, status = [s for s in spans.get_finished_spans() if s.name.startswith("twilio.")]
    assert voice.name == "twilio.voice"
    assert dict(voice.attributes or {}) == {
        "kura.carrier": "twilio",
        "kura.call_sid": fields["CallSid"],
        "kura.session_id": session_id,
        "kura.outcome": "stream",
    }
    assert status.name == "twilio.status"
    assert status.attributes is not None
    assert status.attributes["kura.call_sid"] == fields["CallSid"]
    for span in (voice, status):
        values = " ".join(str(value) for value in (span.attributes or {}).values())
        assert CALLER not in values
        assert NUMBER not in values
