"""Tracing: free when off, spans to an in-memory exporter when on, identifiers only."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway import tracing
from tests.gateway.conftest import Gateway
from tests.gateway.ws_helpers import closed, connect, receive_until
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


async def test_otlp_export_follows_the_standard_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """KURA_TRACING=otlp's exporter: OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, service name
    from OTEL_SERVICE_NAME; a loopback receiver stands in for the collector."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        received.append(ExportTraceServiceRequest.FromString(await request.read()))
        return web.Response(content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    async with TestServer(app, host="127.0.0.1") as server:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", str(server.make_url("")).rstrip("/"))
        monkeypatch.setenv("OTEL_SERVICE_NAME", "kura-test")
        tracing.configure()
        with tracing.span("session", session_id="s1"):
            pass
        # The exporter posts from its own thread, synchronously: keep this loop free to answer.
        await asyncio.get_running_loop().run_in_executor(None, tracing.shutdown)
    (request,) = received
    (resource_spans,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "kura-test"
    (span,) = resource_spans.scope_spans[0].spans
    assert span.name == "session"
    assert {a.key: a.value.string_value for a in span.attributes} == {"kura.session_id": "s1"}


async def test_a_chat_session_traces_its_connect_and_each_reply(
    spans: InMemorySpanExporter, gateway: Gateway
) -> None:
    created = await gateway.create_session(mode="chat")
    ws = await connect(gateway, created)
    await receive_until(ws, "turnComplete")  # the greeting
    await ws.send_str(json.dumps({"type": "textMessage", "text": "Hello"}))
    await receive_until(ws, "turnComplete")
    await ws.send_str(json.dumps({"type": "stopSession"}))
    assert await closed(ws) == 1000
    names = [span.name for span in spans.get_finished_spans()]
    for _ in range(100):  # the session span ends with the session's wrap-up
        if "session" in names:
            break
        await asyncio.sleep(0.01)
        names = [span.name for span in spans.get_finished_spans()]
    assert names == ["provider.connect", "first_agent_audio", "turn", "session"]
    session = spans.get_finished_spans()[-1]
    assert session.attributes is not None
    assert session.attributes["kura.session_id"] == created["session_id"]
    assert session.attributes["kura.outcome"] == "client_stop"
    by_name = {span.name: span for span in spans.get_finished_spans()}
    parent = by_name["turn"].parent
    assert parent is not None and parent.span_id == session.context.span_id
