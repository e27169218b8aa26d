"""OpenAI Realtime provider (GA interface): ``OpenAIRealtimeProvider``.

Modules by responsibility: ``wire`` (client events, decoding), ``translate`` (server events to
provider events), ``faults`` (errors and close codes), ``connection`` (connect, retry),
``history`` (re-seeding), ``watchdog`` (stalls), ``session`` (the live session), ``provider``.
"""

from kinds.audio import PCMA_8K, PCMU_8K
from providers.openai_realtime.provider import OpenAIRealtimeProvider

__all__ = ["PCMA_8K", "PCMU_8K", "OpenAIRealtimeProvider"]
