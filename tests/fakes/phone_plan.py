"""The session plan of a plain phone call: a client and a provider both speaking one format,
the provider detecting turns and truncating, nothing more. Shared by the recorder's tests and the
recording and monitor benchmarks so they measure and check the same plan."""

from __future__ import annotations

from gateway.sessions.plan import ClientTraits, SessionPlan, plan_session
from kinds.audio import PCMU_8K, AudioFormat
from providers.capabilities import ProviderCapabilities
from providers.spec import AssistantSpec


def phone_capabilities(fmt: AudioFormat = PCMU_8K) -> ProviderCapabilities:
    return ProviderCapabilities(
        input_audio=fmt,
        output_audio=fmt,
        server_vad=True,
        truncation=True,
        tools=False,
        text_mode=False,
        input_transcription=False,
    )


def phone_traits(fmt: AudioFormat = PCMU_8K) -> ClientTraits:
    return ClientTraits(audio=fmt, converts_audio=True, detects_turns=True)


def phone_plan(name: str, fmt: AudioFormat = PCMU_8K) -> SessionPlan:
    spec = AssistantSpec(name=name, provider=name)
    return plan_session(phone_traits(fmt), phone_capabilities(fmt), spec, "voice")
