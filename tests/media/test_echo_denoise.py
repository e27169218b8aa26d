"""EchoGuard tells the assistant's returning voice from the caller's; NoiseSuppressor quiets hiss;
the InboundChain runs both with the interruption policy."""

from __future__ import annotations

import numpy as np
import pytest

from kinds.audio import PCMU_8K
from kinds.interruption import InterruptionSettings
from media import denoise
from media.chains import InboundChain
from media.denoise import NoiseSuppressor
from media.echo import EchoGuard
from media.g711 import pcm16_to_ulaw
from tests.media.audio import Samples, frames, load, to_pcm16

FRAME = 160


def _echo_verdicts(
    agent: Samples, caller: Samples, own: Samples | None = None, loud: float = 300
) -> list[bool]:
    """Play ``agent`` and hear ``caller`` frame by frame; the verdict of each frame where
    ``own`` (the caller's own voice; default: all it hears) is loud enough for the VAD."""
    own = caller if own is None else own
    guard = EchoGuard()
    verdicts = []
    for index in range(min(len(agent), len(caller)) // FRAME):
        guard.played(to_pcm16(agent[index * FRAME : (index + 1) * FRAME]))
        guard.advance(to_pcm16(caller[index * FRAME : (index + 1) * FRAME]))
        if np.sqrt(np.mean(own[index * FRAME : (index + 1) * FRAME] ** 2)) > loud:
            verdicts.append(guard.is_echo())
    return verdicts


def _delayed(signal: Samples, delay_ms: int, gain_db: float) -> Samples:
    shift = delay_ms * 8
    out: Samples = np.concatenate([np.zeros(shift), signal[:-shift]]) * 10 ** (gain_db / 20)
    return out


def test_the_agents_own_voice_returning_is_echo_at_any_delay() -> None:
    agent = load("speech_a_8k.wav")
    for delay_ms, gain_db in ((40, -6.0), (120, -12.0), (200, -20.0), (350, -6.0)):
        verdicts = _echo_verdicts(agent, _delayed(agent, delay_ms, gain_db))
        assert verdicts and sum(verdicts) / len(verdicts) >= 0.95, (delay_ms, gain_db)


def test_the_caller_speaking_is_not_echo_even_over_it() -> None:
    agent, caller = load("speech_a_8k.wav"), load("speech_b_8k.wav")
    size = min(len(agent), len(caller))
    agent, caller = agent[:size], caller[:size]
    alone = _echo_verdicts(agent, caller)
    assert alone and not any(alone)
    # where the caller is clearly louder than the echo (frames over -30 dBov, echo at -42)
    over = _echo_verdicts(agent, caller + _delayed(agent, 80, -16.0), caller, loud=1000)
    assert sum(over) / len(over) <= 0.05


def test_nothing_played_means_no_echo_and_clear_forgets_the_queue() -> None:
    guard = EchoGuard()
    speech = to_pcm16(load("speech_a_8k.wav"))
    guard.played(speech)
    guard.clear()
    for frame in frames(speech)[:100]:
        guard.advance(frame)
    assert not guard.is_echo()


def test_noise_suppression_lowers_hiss_and_keeps_frame_sizes() -> None:
    rng = np.random.default_rng(7)
    hiss = rng.standard_normal(8000 * 3) * 300  # about -40 dBov
    suppressor = NoiseSuppressor()
    out = [suppressor.process(frame) for frame in frames(to_pcm16(hiss))]
    assert all(len(frame) == 320 for frame in out)
    tail = np.frombuffer(b"".join(out[-50:]), "<i2").astype(np.float64)
    assert 20 * np.log10(np.sqrt(np.mean(tail**2)) / 300) <= -6  # settled: at least 6 dB less
    assert suppressor.process(b"\x00" * 100) == b"\x00" * 100  # odd sizes pass untouched


@pytest.mark.skipif(not denoise.AVAILABLE, reason="speexdsp-ns is not installed")
def test_a_long_run_of_digital_silence_skips_speex_with_the_same_output() -> None:
    """Speex turns zeros into zeros once its overlap tail is out; after
    ``SKIP_SILENCE_AFTER_FRAMES`` of them it is not run at all, and the output is unchanged."""
    speech = frames(to_pcm16(load("speech_a_8k.wav")))[:60]
    line = speech + [bytes(320)] * (denoise.SKIP_SILENCE_AFTER_FRAMES + 50)
    skipping, feeding = NoiseSuppressor(), NoiseSuppressor(skip_silence_after=None)
    native = skipping._ns
    calls = []

    class Counting:
        def process(self, frame: bytes) -> bytes:
            calls.append(frame)
            out: bytes = native.process(frame)
            return out

    skipping._ns = Counting()
    assert [skipping.process(f) for f in line] == [feeding.process(f) for f in line]
    assert len(calls) == len(speech) + denoise.SKIP_SILENCE_AFTER_FRAMES
    skipping.process(speech[-1])  # sound again: speex runs again
    assert len(calls) == len(speech) + denoise.SKIP_SILENCE_AFTER_FRAMES + 1


def test_chain_pauses_then_cuts_on_speech_and_denoises_passthrough_audio() -> None:
    chain = InboundChain(
        PCMU_8K, PCMU_8K, noise_suppression=True, interruption=InterruptionSettings()
    )
    ulaw = pcm16_to_ulaw(to_pcm16(load("speech_b_8k.wav")))
    actions = []
    for index in range(0, len(ulaw) - FRAME + 1, FRAME):
        result = chain.process(ulaw[index : index + FRAME], agent_audible="cut" not in actions)
        assert len(result.audio) == FRAME
        if result.decision is not None:
            actions.append(result.decision.action)
            chain.agent_cleared()
    assert actions[0] == "pause"
    assert actions[-1] == "cut"


def test_chain_without_a_policy_makes_no_decisions() -> None:
    chain = InboundChain(PCMU_8K, PCMU_8K)
    ulaw = pcm16_to_ulaw(to_pcm16(load("speech_b_8k.wav")))
    results = [chain.process(ulaw[i : i + FRAME], True) for i in range(0, 16000, FRAME)]
    assert all(r.decision is None for r in results)
    assert any(r.barge_in is not None for r in results)
    assert results[0].audio == ulaw[:FRAME]  # passthrough stays byte-exact without denoising


def test_without_speexdsp_no_suppressor_pretends_to_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(denoise, "_NOISE_SUPPRESSION", None)
    with pytest.raises(RuntimeError):
        NoiseSuppressor()


@pytest.mark.skipif(not denoise.AVAILABLE, reason="speexdsp-ns is not installed")
def test_a_suppressors_native_state_is_destroyed_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The binding never frees what ``create`` returns (25 KiB a call, found by
    scripts/soak.py); the suppressor destroys it once, when it goes."""
    import gc

    destroyed: list[object] = []
    real = denoise._DESTROY
    assert real is not None

    def destroy(state: object) -> None:
        destroyed.append(state)
        real(state)

    monkeypatch.setattr(denoise, "_DESTROY", destroy)
    suppressor = NoiseSuppressor()
    state = suppressor._ns
    suppressor.process(bytes(suppressor.frame_bytes))
    del suppressor
    gc.collect()
    assert destroyed == [state]
    fresh = NoiseSuppressor()  # the binding still hands out working states afterwards
    assert len(fresh.process(bytes(fresh.frame_bytes))) == fresh.frame_bytes
