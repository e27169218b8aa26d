"""What every provider needs around its wire protocol, written once (DESIGN §2, §4).

- ``channel.EventChannel``: the events a session has produced and its consumer not yet taken;
  it can take back an interrupted item's audio and ends after ``ProviderFailed``.
- ``backlog.AudioBacklog``: caller audio held while there is no connection (or as a pre-roll),
  bounded in bytes, oldest dropped first.
- ``retry.connect_with_retry``: attempts inside a ``RetryPolicy`` (attempts, per-attempt
  time-out, total budget, back-off); a non-retryable ``ProviderError`` stops it at once.
- ``watchdog.StallWatchdog``: "we are waiting and the provider says nothing", plus one extra
  deadline (Gemini's ``goAway``), optionally probing at half time.
- ``deadline.within`` and ``race.first_of``: time-outs and races on the injected ``Clock``.

Everything that waits takes a ``kinds.clock.Clock``, so tests run on a virtual clock.
"""
