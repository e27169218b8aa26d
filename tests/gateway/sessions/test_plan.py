"""The session plan as a table: client × provider × assistant → formats, turns, built-ins."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.api.app_audio import app_traits
from gateway.api.session_socket import APP_TRAITS
from gateway.sessions.plan import AudioRoute, ClientTraits, SessionPlan, plan_session
from gateway.telephony.bridge_ports import call_traits
from gateway.telephony.twilio_codec import CAPABILITIES as TWILIO
from kinds.audio import PCM16_8K, PCM16_16K, PCM16_24K, PCMA_8K, PCMU_8K, AudioFormat
from kinds.clock import SystemClock
from providers.capabilities import ProviderCapabilities
from providers.gemini_live.provider import CAPABILITIES as GEMINI
from providers.local.provider import LOCAL_CAPABILITIES as LOCAL
from providers.openai_realtime.provider import OpenAIRealtimeProvider
from providers.spec import AssistantSpec, SessionMode, TurnDetection

CALL_TRAITS = call_traits(TWILIO)
OPENAI = OpenAIRealtimeProvider("sk-test", clock=SystemClock()).capabilities("voice")
ALAW_CALL = call_traits(dataclasses.replace(TWILIO, audio=PCMA_8K))
L16_8K_CALL = call_traits(dataclasses.replace(TWILIO, audio=PCM16_8K))
L16_16K_CALL = call_traits(dataclasses.replace(TWILIO, audio=PCM16_16K))
L16_24K_CALL = call_traits(dataclasses.replace(TWILIO, audio=PCM16_24K))
MULAW_APP, ALAW_APP = app_traits(PCMU_8K), app_traits(PCMA_8K)
APP_16K, APP_8K = app_traits(PCM16_16K), app_traits(PCM16_8K)
SERVER_VAD = AssistantSpec(name="a")
NO_SERVER_VAD = AssistantSpec(name="a", turn_detection=TurnDetection(server_vad=False))


def _route(port: AudioFormat, provider: AudioFormat | None = None) -> AudioRoute:
    return AudioRoute(port, provider or port)


# client, provider, assistant, mode → inbound, outbound, turns
ROWS: list[tuple[str, ClientTraits, ProviderCapabilities, AssistantSpec, SessionMode,
                 AudioRoute, AudioRoute, str]] = [
    # A call on OpenAI or the local demo: µ-law straight through both ways.
    ("call-openai", CALL_TRAITS, OPENAI, SERVER_VAD, "voice",
     _route(PCMU_8K), _route(PCMU_8K), "provider"),
    ("call-local", CALL_TRAITS, LOCAL, SERVER_VAD, "voice",
     _route(PCMU_8K), _route(PCMU_8K), "client"),
    # A call on Gemini: the bridge resamples 8 → 16 kHz in and 24 → 8 kHz out, once each.
    ("call-gemini", CALL_TRAITS, GEMINI, SERVER_VAD, "voice",
     _route(PCM16_16K), _route(PCM16_24K), "provider"),
    # An A-law carrier: straight through to OpenAI (audio/pcma) and the local demo; on Gemini
    # the bridge decodes and resamples once each way, as for µ-law.
    ("alaw-call-openai", ALAW_CALL, OPENAI, SERVER_VAD, "voice",
     _route(PCMA_8K), _route(PCMA_8K), "provider"),
    ("alaw-call-local", ALAW_CALL, LOCAL, SERVER_VAD, "voice",
     _route(PCMA_8K), _route(PCMA_8K), "client"),
    ("alaw-call-gemini", ALAW_CALL, GEMINI, SERVER_VAD, "voice",
     _route(PCM16_16K), _route(PCM16_24K), "provider"),
    # L16 carriers: a rate the provider speaks passes straight through (24 kHz on OpenAI, 16 kHz
    # into Gemini, 24 kHz out of it); any other rate is resampled once, by the bridge.
    ("l16-24k-call-openai", L16_24K_CALL, OPENAI, SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "provider"),
    ("l16-24k-call-gemini", L16_24K_CALL, GEMINI, SERVER_VAD, "voice",
     _route(PCM16_16K), _route(PCM16_24K), "provider"),
    ("l16-16k-call-gemini", L16_16K_CALL, GEMINI, SERVER_VAD, "voice",
     _route(PCM16_16K), _route(PCM16_24K), "provider"),
    ("l16-16k-call-openai", L16_16K_CALL, OPENAI, SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "provider"),
    ("l16-8k-call-openai", L16_8K_CALL, OPENAI, SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "provider"),
    ("l16-24k-call-local", L16_24K_CALL, LOCAL, SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "client"),
    # An app speaks PCM16 24 kHz only: the engine converts for Gemini's 16 kHz input.
    ("app-openai", APP_TRAITS, OPENAI, SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "provider"),
    ("app-gemini", APP_TRAITS, GEMINI, SERVER_VAD, "voice",
     _route(PCM16_24K, PCM16_16K), _route(PCM16_24K), "provider"),
    ("app-local", APP_TRAITS, LOCAL, SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "provider"),
    # An app's own format (chosen per session): passed through where the provider speaks it
    # (µ-law on OpenAI's g711_ulaw, A-law on the local demo, 16 kHz into Gemini), else
    # converted once by the engine.
    ("app-mulaw-openai", MULAW_APP, OPENAI, SERVER_VAD, "voice",
     _route(PCMU_8K), _route(PCMU_8K), "provider"),
    ("app-alaw-local", ALAW_APP, LOCAL, SERVER_VAD, "voice",
     _route(PCMA_8K), _route(PCMA_8K), "provider"),
    ("app-mulaw-gemini", MULAW_APP, GEMINI, SERVER_VAD, "voice",
     _route(PCMU_8K, PCM16_16K), _route(PCMU_8K, PCM16_24K), "provider"),
    ("app-16k-gemini", APP_16K, GEMINI, SERVER_VAD, "voice",
     _route(PCM16_16K), _route(PCM16_16K, PCM16_24K), "provider"),
    ("app-8k-openai", APP_8K, OPENAI, SERVER_VAD, "voice",
     _route(PCM16_8K, PCM16_24K), _route(PCM16_8K, PCM16_24K), "provider"),
    # Server VAD off: the client's VAD on a call, the engine's own on an app's audio.
    ("call-openai-no-vad", CALL_TRAITS, OPENAI, NO_SERVER_VAD, "voice",
     _route(PCMU_8K), _route(PCMU_8K), "client"),
    ("app-openai-no-vad", APP_TRAITS, OPENAI, NO_SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "gateway"),
    ("app-gemini-no-vad", APP_TRAITS, GEMINI, NO_SERVER_VAD, "voice",
     _route(PCM16_24K, PCM16_16K), _route(PCM16_24K), "gateway"),
    ("app-local-no-vad", APP_TRAITS, LOCAL, NO_SERVER_VAD, "voice",
     _route(PCM16_24K), _route(PCM16_24K), "gateway"),
    # Chat: nobody detects turns.
    ("app-openai-chat", APP_TRAITS, OPENAI, SERVER_VAD, "chat",
     _route(PCM16_24K), _route(PCM16_24K), "none"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("client", "provider", "assistant", "mode", "inbound", "outbound", "turns"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_plan_table(
    client: ClientTraits,
    provider: ProviderCapabilities,
    assistant: AssistantSpec,
    mode: SessionMode,
    inbound: AudioRoute,
    outbound: AudioRoute,
    turns: str,
) -> None:
    plan = plan_session(client, provider, assistant, mode)
    assert (plan.inbound, plan.outbound, plan.turns) == (inbound, outbound, turns)


def test_each_direction_is_converted_at_most_once() -> None:
    """Where the client converts (the port is the provider's format) the engine does not."""
    for _, client, provider, assistant, mode, *_ in ROWS:
        plan = plan_session(client, provider, assistant, mode)
        for route in (plan.inbound, plan.outbound):
            converted_by_client = route.port != client.audio
            assert not (converted_by_client and route.converts)


def test_a_provider_that_cannot_be_told_turns_keeps_its_own() -> None:
    deaf = dataclasses.replace(GEMINI, turn_marks=False)
    assert plan_session(APP_TRAITS, deaf, NO_SERVER_VAD, "voice").turns == "provider"


def test_the_gateway_vad_times_turns_a_provider_never_says_have_ended() -> None:
    """Gemini's VAD sends no end of speech: beside it the gateway's VAD times an app's reply
    (a call's bridge VAD already does); it also runs where it tells the provider the turns."""
    assert plan_session(APP_TRAITS, GEMINI, SERVER_VAD, "voice").gateway_vad
    assert plan_session(MULAW_APP, GEMINI, SERVER_VAD, "voice").gateway_vad
    assert plan_session(APP_TRAITS, GEMINI, NO_SERVER_VAD, "voice").gateway_vad
    assert plan_session(APP_TRAITS, OPENAI, NO_SERVER_VAD, "voice").gateway_vad
    assert not plan_session(APP_TRAITS, OPENAI, SERVER_VAD, "voice").gateway_vad
    assert not plan_session(APP_TRAITS, LOCAL, SERVER_VAD, "voice").gateway_vad
    assert not plan_session(CALL_TRAITS, GEMINI, SERVER_VAD, "voice").gateway_vad
    assert not plan_session(APP_TRAITS, GEMINI, SERVER_VAD, "chat").gateway_vad


def _builtins(plan: SessionPlan) -> list[tuple[str, str, bool]]:
    return [(b.spec.name, b.answered_by, b.offered) for b in plan.builtins]


def test_builtins_on_a_call_are_answered_by_the_phone() -> None:
    plan = plan_session(CALL_TRAITS, OPENAI, SERVER_VAD, "voice")
    assert _builtins(plan) == [("end_call", "client", True)]
    plan = plan_session(CALL_TRAITS, OPENAI, SERVER_VAD, "voice", can_transfer=True)
    assert _builtins(plan) == [("end_call", "client", True), ("transfer_call", "client", True)]
    assert [tool.name for tool in plan.offered_tools] == ["end_call", "transfer_call"]


def test_an_apps_end_session_is_opt_in_and_answered_by_the_engine() -> None:
    plan = plan_session(APP_TRAITS, OPENAI, SERVER_VAD, "voice", can_transfer=True)
    assert _builtins(plan) == [("end_session", "engine", False)]
    assert plan.offered_tools == ()
    assert plan.builtin("end_session") is not None
    assert plan.builtin("transfer_call") is None
