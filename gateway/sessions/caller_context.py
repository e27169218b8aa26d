"""What the gateway knows about a session's caller, as a few sentences for the assistant.

Appended to the provider's instructions (``SessionContext.caller_context``), so an assistant can
greet a returning caller by name or pick up where the last call ended. Apps and phone calls
alike: any session with a contact gets it. The caller's number is never included.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from gateway.store import Store
from gateway.store.models import Session

OUTBOUND_NOTE = (
    "You placed this call: the person did not call you, so introduce yourself and say why "
    "you are calling. "
)
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f]+")  # a name is one line, never new instructions


async def describe_caller(store: Store, session: Session) -> str | None:
    """The caller context for ``session``, or ``None`` when it has no contact."""
    if session.contact_id is None:
        return None
    contact, earlier, last = await store.contacts.history(session.contact_id, session)
    if contact is None:
        return None
    text = caller_context_text(
        name=contact.name, earlier_sessions=earlier, last=last, now=session.created_at
    )
    if session.channel == "phone" and session.meta.get("direction") == "outbound":
        return OUTBOUND_NOTE + text.replace("About the caller:", "About them:", 1)
    return text


def caller_context_text(
    *, name: str | None, earlier_sessions: int, last: Session | None, now: datetime
) -> str:
    """The sentences themselves; pure, so the wording is easy to test and to change."""
    named = f" Their name is {_clean(name)}." if name and _clean(name) else ""
    if earlier_sessions == 0 or last is None:
        return f"About the caller: this is a new caller, talking to you for the first time.{named}"
    plural = "s" if earlier_sessions != 1 else ""
    when = last.created_at.strftime("%Y-%m-%d %H:%M UTC")
    ended = (
        f"it ended with reason '{last.end_reason}'" if last.end_reason else "it has not ended yet"
    )
    return (
        f"About the caller: this is a returning caller with {earlier_sessions} earlier "
        f"conversation{plural}.{named} The last one was {_ago(now - last.created_at)} "
        f"({when}); {ended}."
    )


def _clean(name: str) -> str:
    return _UNPRINTABLE.sub(" ", name).strip()[:200]


def _ago(elapsed: timedelta) -> str:
    seconds = max(0, int(elapsed.total_seconds()))
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "moments ago"
