"""OpenTelemetry spans: optional, off by default, and free when off.

Off (the default), ``span()`` returns one shared do-nothing context manager and
``start_span()`` one shared do-nothing handle: no OpenTelemetry import, no object made per
call. On (``KURA_TRACING=otlp``, with ``pip install 'kura-gateway[tracing]'``), spans go to an
OTLP/HTTP exporter that the standard ``OTEL_*`` variables configure (endpoint, headers,
service name); the SDK reads those itself.

Spans carry identifiers only. Attribute names are checked against ``ATTRIBUTES`` (a name
outside it raises, so a test catches the mistake): session id, call SID, assistant id,
provider, channel, carrier, outcome. Never a phone number, transcript text, DTMF or a key.

Call sites stay one line::

    with tracing.span("provider.connect", session_id=sid, provider=name):
        ...
    tracing.annotate(session_id=sid)                    # onto the current span
    turn = tracing.start_span("turn", session_id=sid)   # caller's end of turn
    turn.end()                                          # first agent audio of the answer
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Tracer

SERVICE_NAME = "kura-gateway"
ATTRIBUTES = frozenset(
    {"session_id", "call_sid", "assistant_id", "provider", "channel", "carrier", "outcome"}
)
"""The only attribute names a span may carry, recorded as ``kura.<name>``."""

AttributeValue = str | int | float | bool


class SpanHandle(Protocol):
    """A span started in one place and ended in another (a turn: end of speech → audio)."""

    def set(self, **attributes: AttributeValue | None) -> None: ...

    def end(self) -> None: ...


class _NoSpan:
    """Tracing off: the one object every call gets; doing nothing costs nothing."""

    def set(self, **attributes: AttributeValue | None) -> None:
        return None

    def end(self) -> None:
        return None

    def __enter__(self) -> _NoSpan:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None


_NO_SPAN = _NoSpan()
_tracer: Tracer | None = None
_provider: TracerProvider | None = None


def enabled() -> bool:
    return _tracer is not None


def _checked(attributes: dict[str, AttributeValue | None]) -> dict[str, AttributeValue]:
    unknown = attributes.keys() - ATTRIBUTES
    if unknown:
        raise ValueError(f"span attributes not allowed (personal data?): {sorted(unknown)}")
    return {f"kura.{name}": value for name, value in attributes.items() if value is not None}


class _LiveSpan:
    """A started span; ``end`` is idempotent, so a turn cut short may end it twice."""

    def __init__(self, span: Any) -> None:
        self._span = span

    def set(self, **attributes: AttributeValue | None) -> None:
        self._span.set_attributes(_checked(attributes))

    def end(self) -> None:
        if self._span.is_recording():
            self._span.end()


def span(
    name: str, **attributes: AttributeValue | None
) -> contextlib.AbstractContextManager[SpanHandle]:
    """A span around a block, child of the current one; a no-op when tracing is off.

    Exceptions leaving the block are recorded on it and mark it as an error."""
    if _tracer is None:
        return _NO_SPAN
    return _current_span(_tracer, name, _checked(attributes))


@contextlib.contextmanager
def _current_span(tracer: Tracer, name: str, attributes: dict[str, Any]) -> Iterator[SpanHandle]:
    with tracer.start_as_current_span(name, attributes=attributes) as live:
        yield _LiveSpan(live)


def annotate(**attributes: AttributeValue | None) -> None:
    """Add attributes to the current span (learnt inside it: a call's session id)."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(_checked(attributes))


def start_span(name: str, **attributes: AttributeValue | None) -> SpanHandle:
    """A span ended later by ``.end()`` (not made current); a no-op when tracing is off."""
    if _tracer is None:
        return _NO_SPAN
    return _LiveSpan(_tracer.start_span(name, attributes=_checked(attributes)))


def configure(exporter: SpanExporter | None = None, *, batch: bool = True) -> None:
    """Turn tracing on: spans to ``exporter`` (default: OTLP over HTTP from ``OTEL_*``).

    Tests pass an in-memory exporter with ``batch=False`` to see each span as it ends."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    resource = Resource.create()
    if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
        resource = resource.merge(Resource({"service.name": SERVICE_NAME}))  # no OTEL_ name
    provider = TracerProvider(resource=resource)
    processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer("kura.gateway")


def shutdown() -> None:
    """Flush and stop the exporter (at exit); tracing is off afterwards."""
    global _tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    _provider = _tracer = None


@contextlib.contextmanager
def configured(exporter: SpanExporter) -> Iterator[None]:
    """Tracing on, into ``exporter``, for the length of a block (tests)."""
    configure(exporter, batch=False)
    try:
        yield
    finally:
        shutdown()
