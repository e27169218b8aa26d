"""The outbound seam: what placing a call on a carrier comes down to, whatever its REST API.

``OutboundCalls`` owns the call (slots, store, session, deadlines); a ``CarrierDialer`` only
talks to its carrier: place the call with our callback URLs, hang it up, leave a voicemail
message. Each declares what it can do (``DialCapabilities``), so a request the carrier
cannot honour is refused with a 422 before anything is dialled, never silently downgraded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from gateway.store.models import Call

MachineDetection = Literal["off", "detect", "leave_message"]


@dataclass(frozen=True, slots=True)
class DialCapabilities:
    """What one carrier's outbound calls can do."""

    carrier: str
    title: str
    """Its name as people write it, for error messages."""
    machine_detection: frozenset[MachineDetection]
    """The ``machine_detection`` modes it honours (``off`` always)."""

    def allows(self, mode: MachineDetection) -> bool:
        return mode == "off" or mode in self.machine_detection


ALL_MACHINE_DETECTION: frozenset[MachineDetection] = frozenset({"detect", "leave_message"})


class CarrierDialer(Protocol):
    """One carrier's outbound REST work; service code, never a codec (DESIGN §4)."""

    @property
    def capabilities(self) -> DialCapabilities: ...

    async def dial(self, call: Call, *, ring_timeout_s: int) -> str:
        """Place ``call`` (``to_number`` from ``from_number``); the carrier's call id.
        ``CarrierFailed`` if the carrier refused or could not be reached."""

    async def hang_up(self, call: Call, *, ringing: bool) -> None:
        """End a live call (cancel it while it still rings); failures are logged, not raised:
        the session ends on our side regardless."""

    async def leave_message(self, call: Call, message: str) -> bool:
        """Say ``message`` to the answering machine, then hang up (the stream, and so the
        session, ends); ``False`` if the carrier refused (the caller then hangs up)."""

    async def aclose(self) -> None: ...
