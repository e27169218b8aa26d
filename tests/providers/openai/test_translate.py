"""The server-event translator on its own: state that the fake-server tests reach only by luck."""

from __future__ import annotations

import base64

import pytest

from providers.errors import ProviderQuotaError, ProviderUnavailable
from providers.events import AgentAudio, ResponseDone, TranscriptDelta
from providers.openai_realtime.history import ConversationHistory
from providers.openai_realtime.translate import ServerEventTranslator, heard_prefix


def translator() -> ServerEventTranslator:
    return ServerEventTranslator(ConversationHistory(), output_bytes_per_ms=48)


def audio_delta(response_id: str, item_id: str = "item_1") -> dict[str, object]:
    delta = base64.b64encode(b"\x00\x00" * 24).decode()
    ids = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
    return {"type": "response.output_audio.delta", **ids, "delta": delta}


def test_a_cancel_sent_before_response_created_still_drops_that_response() -> None:
    t = translator()
    assert t.want_reply()  # we sent response.create
    plan = t.plan_interrupt(None)  # the caller cut in before the server created it
    assert [e["type"] for e in plan.client_events] == ["response.cancel"]
    t.handle({"type": "response.created", "response": {"id": "resp_1"}})
    assert t.handle(audio_delta("resp_1")) == []
    done = t.handle({"type": "response.done", "response": {"id": "resp_1", "status": "cancelled"}})
    assert done == [ResponseDone(None, interrupted=True)]
    t.handle({"type": "response.created", "response": {"id": "resp_2"}})
    assert isinstance(t.handle(audio_delta("resp_2", "item_2"))[0], AgentAudio)


def test_input_transcript_completion_adds_only_what_deltas_missed() -> None:
    t = translator()
    t.handle({"type": "input_audio_buffer.committed", "item_id": "u1"})
    delta = {"type": "conversation.item.input_audio_transcription.delta", "item_id": "u1"}
    assert t.handle({**delta, "delta": "Hello"}) == [TranscriptDelta("input", "Hello", "u1")]
    done = {"type": "conversation.item.input_audio_transcription.completed", "item_id": "u1"}
    assert t.handle({**done, "transcript": "Hello there"}) == [
        TranscriptDelta("input", " there", "u1", final=True)
    ]
    assert t.history.replay_items()[0]["content"][0]["text"] == "Hello there"


def test_failed_response_for_quota_is_fatal_and_session_expired_is_retryable() -> None:
    t = translator()
    error = {"type": "insufficient_quota", "code": "insufficient_quota", "message": "x"}
    failed = {"id": "r", "status": "failed", "status_details": {"type": "failed", "error": error}}
    with pytest.raises(ProviderQuotaError):
        t.handle({"type": "response.done", "response": failed})
    expired = {"type": "invalid_request_error", "code": "session_expired", "message": "x"}
    with pytest.raises(ProviderUnavailable) as caught:
        t.handle({"type": "error", "error": expired})
    assert caught.value.retryable


def test_other_errors_are_logged_not_fatal() -> None:
    t = translator()
    error = {"type": "invalid_request_error", "code": "response_cancel_not_active", "message": "x"}
    assert t.handle({"type": "error", "error": error}) == []


@pytest.mark.parametrize(
    ("fraction", "heard"),
    [
        (0.0, ""),
        (0.1, ""),
        (0.35, "one"),
        (7 / 18, "one two"),
        (0.5, "one two"),
        (1.0, "one two three four"),
    ],
)
def test_heard_prefix_keeps_whole_words(fraction: float, heard: str) -> None:
    assert heard_prefix("one two three four", fraction) == heard


def test_no_cancel_for_a_response_the_server_vad_already_cancels(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With ``interrupt_response`` on, OpenAI cancels the reply itself at speech start; a
    ``response.cancel`` would only earn ``response_cancel_not_active`` (protocols.md §3.6)."""
    t = ServerEventTranslator(ConversationHistory(), output_bytes_per_ms=48, server_interrupts=True)
    t.handle({"type": "response.created", "response": {"id": "resp_1"}})
    assert isinstance(t.handle(audio_delta("resp_1"))[0], AgentAudio)
    t.handle({"type": "input_audio_buffer.speech_started", "item_id": "u1"})
    assert t.handle(audio_delta("resp_1")) == []  # in flight when the server cut it
    plan = t.plan_interrupt(None)
    assert [e["type"] for e in plan.client_events] == ["conversation.item.truncate"]
    error = {"type": "invalid_request_error", "code": "response_cancel_not_active"}
    with caplog.at_level("WARNING"):
        assert t.handle({"type": "error", "error": error}) == []  # a crossed cancel: harmless
    assert caplog.records == []
    done = t.handle({"type": "response.done", "response": {"id": "resp_1", "status": "cancelled"}})
    assert done == [ResponseDone(None, interrupted=True)]
    t.handle({"type": "response.created", "response": {"id": "resp_2"}})
    assert [e["type"] for e in t.plan_interrupt(None).client_events] == ["response.cancel"]


def test_without_server_interrupts_the_gateway_cancels() -> None:
    t = translator()  # interrupt_response off: the gateway decides barge-in
    t.handle({"type": "response.created", "response": {"id": "resp_1"}})
    t.handle({"type": "input_audio_buffer.speech_started", "item_id": "u1"})
    assert [e["type"] for e in t.plan_interrupt(None).client_events] == ["response.cancel"]


def test_a_reply_not_yet_created_at_speech_start_is_cancelled_by_us() -> None:
    t = ServerEventTranslator(ConversationHistory(), output_bytes_per_ms=48, server_interrupts=True)
    assert t.want_reply()  # response.create is on its way; the server has not created it
    t.handle({"type": "input_audio_buffer.speech_started", "item_id": "u1"})
    assert [e["type"] for e in t.plan_interrupt(None).client_events] == ["response.cancel"]
