"""What a publishable key (``kura_pk_…``) may ask of ``POST /api/v1/sessions``.

Such a key sits in a public page, so anyone can use it: it creates sessions only for the
assistants and modes it lists, and never with a ``phone_number`` — that would attach the session
to a contact, whose name and history the assistant is told, to anyone who types the number.
"""

from __future__ import annotations

from gateway.api.schemas import CreateSessionRequest
from gateway.errors import Forbidden
from gateway.store.models import ApiKey

PERSONA_FIELDS = frozenset(
    {
        "instructions",
        "greeting",
        "voice",
        "tools",
        "max_turns",
        "context_window",
        "vad_threshold",
        "silence_ms",
    }
)


def check_session_scope(key: ApiKey, body: CreateSessionRequest) -> None:
    if body.assistant_id not in key.assistant_ids:
        raise Forbidden("this publishable key may not create sessions for this assistant")
    if body.mode not in key.session_modes:
        raise Forbidden(f"this publishable key may not create {body.mode} sessions")
    if body.phone_number is not None:
        raise Forbidden("a publishable key may not set phone_number")
    # Anyone can read the key from the page: the assistant's persona, tools and limits are the
    # site owner's, not the visitor's to rewrite.
    changed = sorted(PERSONA_FIELDS & body.model_fields_set)
    if changed:
        raise Forbidden(f"a publishable key may not override {', '.join(changed)}")
