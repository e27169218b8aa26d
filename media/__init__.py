"""Pure, synchronous audio code for the call hot path: codecs, resampling, VAD, playout.

No I/O, and nothing of ours is imported here but the ``kinds`` leaf (besides numpy, webrtcvad
and audioop). Audio is raw ``bytes``: PCM16 little-endian mono, or G.711. One object of each
stateful class per stream.

- ``media.g711``: ``ulaw_to_pcm16``, ``pcm16_to_ulaw``, ``alaw_to_pcm16``, ``pcm16_to_alaw``
  (bytes -> bytes, ITU-T G.711 bit-exact); ``ULAW_SILENCE``, ``ALAW_SILENCE``.
- ``media.resample``: ``StreamResampler(in_rate_hz, out_rate_hz)`` with ``process(pcm16) ->
  bytes`` (any even length), ``flush() -> bytes`` (drain the filter; the stream may go on),
  ``reset()`` (drop the state), ``delay_ms`` (≈ 1.7 ms for 8↔24 kHz, 0.8 ms for 16↔24 kHz).
- ``media.vad``: ``VoiceActivityDetector(VadConfig(...))`` with ``process(pcm16) ->
  list[VadEvent]`` (any length, 8/16 kHz) and ``process_frame(frame) -> VadEvent | None``;
  events ``SpeechStarted(start_ms, detected_ms)`` and ``SpeechStopped(end_ms, detected_ms)``.
- ``media.tones``: ``ToneDetector(sample_rate_hz).is_tone(frame)`` for DTMF digits.
- ``media.bargein``: ``BargeInDetector(VadConfig | None)`` with ``process_frame(frame,
  agent_audible) -> BargeIn | None``; ``BargeIn(speech_start_ms, detected_ms)``; ``vad_event``.
- ``media.interruption``: ``InterruptionPolicy(InterruptionSettings)`` with ``step(position_ms,
  voiced_ms, level_dbov, echo=, agent_audible=) -> InterruptionDecision(action: pause | resume |
  cut, onset_ms, at_ms) | None`` and ``heard_words(delta)``: pause at the caller's onset, cut
  only a turn.
- ``media.echo``: ``EchoGuard()`` with ``played(pcm16)``, ``advance(frame)``, ``is_echo()``,
  ``clear()``: is the caller's voiced sound the agent's own voice returning (any delay ≤ 400 ms)?
- ``media.denoise``: ``NoiseSuppressor(rate_hz, *, skip_silence_after=100)`` with
  ``process(frame) -> frame`` (speexdsp; a run of digital silence skips it after that many
  frames, ``None``: never).
- ``media.formats``: the carrier formats (``CARRIER_FORMATS``: µ-law and A-law 8 kHz, L16
  8/16/24 kHz little-endian) and per format ``decoder``, ``encoder``, ``silence_byte``;
  ``convert(audio, source, target)`` for a whole clip.
- ``media.playout``: ``PlayoutTracker(mark_interval_ms=100, audio=PCMU_8K)`` with ``push(item_id,
  audio) -> list[PlayoutBatch]`` (20 ms frames of the carrier's format), ``flush()``,
  ``on_mark(name) -> PlayoutMark | None``, ``clear() -> dict[item_id, heard_ms]``, ``audible``,
  ``queued_ms``, ``played_ms(item_id)``; ``PlayoutBatch(frames: tuple[bytes, ...],
  mark: PlayoutMark(name, item_id, audio_end_ms))``.
- ``media.chains``: ``InboundChain(carrier=PCMU_8K, port=PCM16_24K, *, noise_suppression=False,
  interruption=None)`` with ``process(frame, agent_audible) -> InboundResult(audio, vad_event,
  barge_in, decision)`` (``audio`` in the port's format: the carrier's bytes as they came when
  the port is the carrier's format and nothing is denoised), ``agent_played(carrier_audio)`` /
  ``agent_cleared()`` (the echo guard's reference) and ``flush()``; ``OutboundChain(port=
  PCM16_24K, carrier=PCMU_8K)`` with ``push(item_id, audio) / push_carrier(item_id, audio) ->
  list[PlayoutBatch]``, ``flush()`` at the end of a turn, ``on_mark(name)``, ``clear() ->
  dict[item_id, heard_ms]``, ``hold(item_id, audio) -> bytes`` and ``resume(item_id, start_ms,
  carrier_audio)`` (a paused agent), ``audible``.
"""
