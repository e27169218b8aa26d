"""Twilio, simulated: the carrier side of a phone call, as a library for the call scripts.

``scripts/simulate_call.py`` runs one call and ``scripts/loadtest.py`` runs many; both are thin
command lines over these modules, so what one call does is exactly what each loaded call does.

- ``loopback``: the guard that keeps every script's traffic on this machine.
- ``webhook``: call identities, signed form POSTs (voice webhook, ``<Connect action>``), TwiML.
- ``audio``: WAV in any rate or width → 8 kHz µ-law 20 ms frames (pre-encoded base64), the
  built-in speech clips with their phrase onsets, and the WAV writer for what the agent said.
- ``playback``: Twilio's outbound player on a call clock: audio plays in real time, a ``mark``
  is echoed once the audio queued before it has played, ``clear`` drops audio and echoes marks.
- ``pacing``: the call clock (monotonic, with a speed factor so tests need not take real time).
- ``media_session``: the Media Streams socket: ``connected``, ``start``, paced ``media``,
  ``dtmf``, mark echoes, ``stop``; timings of first agent audio and of ``clear`` after barge-in.
- ``call``: one whole call: webhook → TwiML → media socket → ``<Connect action>``.
- ``metrics``: scrape Prometheus text from ``/metrics``; histogram deltas, mean and quantiles.
- ``gateway_proc``: start ``kura serve`` (and a fake OpenAI Realtime or Gemini Live server)
  for a load test.
"""
