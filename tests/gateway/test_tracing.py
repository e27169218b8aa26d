"""Tracing: free when off, spans to an in-memory exporter when on, identifiers only."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import tracing
from tests.kura_process import ROOT


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    with tracing.configured(exporter):
        yield exporter


def test_off_every_call_gets_one_shared_no_op() -> None:
    assert not tracing.enabled()
    first = tracing.span("a", session_id="s")
    assert tracing.span("b") is first
    assert tracing.start_span("c", call_sid="CA1") is first
    with first as handle:
        handle.set(session_id="s")
    tracing.annotate(session_id="s")


def test_off_the_gateway_runs_without_opentelemetry_installed() -> None:
    # None in sys.modules makes every import of the package fail, as if it were absent.
    code = (
        "import sys\n"
        "for name in ('opentelemetry', 'opentelemetry.sdk', 'opentelemetry.trace'):\n"
        "    sys.modules[name] = None\n"
        "import gateway.cli, gateway.app, gateway.tracing as t\n"
        "with t.span('x', session_id='s'): t.annotate(call_sid='CA1')\n"
        "t.start_span('turn', session_id='s').end()\n"
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (out.returncode, out.stdout.strip()) == (0, "ok"), out.stderr


def test_spans_nest_and_carry_prefixed_identifiers(spans: InMemorySpanExporter) -> None:
    with tracing.span("session", session_id="s1", channel="phone") as session:
        session.set(provider="local")
        with tracing.span("provider.connect", session_id="s1", provider="local"):
            pass
        turn = tracing.start_span("turn", session_id="s1")
        turn.end()
        turn.end()  # a turn cut short may be ended twice
    finished = {span.name: span for span in spans.get_finished_spans()}
    assert list(finished) == ["provider.connect", "turn", "session"]
    session_span = finished["session"]
    assert dict(session_span.attributes or {}) == {
        "kura.session_id": "s1",
        "kura.channel": "phone",
        "kura.provider": "local",
    }
    connect = finished["provider.connect"]
    assert connect.parent is not None
    assert connect.parent.span_id == session_span.context.span_id
    assert session_span.resource.attributes["service.name"] == tracing.SERVICE_NAME


def test_personal_data_cannot_be_an_attribute(spans: InMemorySpanExporter) -> None:
    for attributes in ({"phone_number": "+15550001111"}, {"text": "hello"}, {"digits": "1"}):
        with pytest.raises(ValueError, match="not allowed"):
            tracing.span("x", **attributes)
        with pytest.raises(ValueError, match="not allowed"):
            tracing.start_span("x", **attributes)


def test_errors_mark_the_span(spans: InMemorySpanExporter) -> None:
    with pytest.raises(RuntimeError), tracing.span("provider.connect", provider="openai"):
        raise RuntimeError("refused")
    (span,) = spans.get_finished_spans()
    assert not span.status.is_ok
