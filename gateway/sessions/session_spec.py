"""A stored assistant (and a session's overrides of it) as the provider-neutral
``AssistantSpec`` the provider and the session plan read."""

from __future__ import annotations

import dataclasses

from gateway.sessions.overrides import SessionOverrides, apply_overrides
from gateway.store.models import Assistant, Session
from providers.spec import AssistantSpec, SessionMode, ToolSpec, TurnDetection


def assistant_spec(assistant: Assistant) -> AssistantSpec:
    """The provider-neutral view of a stored assistant."""
    tools = tuple(
        ToolSpec(
            name=tool["name"],
            description=tool.get("description", ""),
            parameters=tool.get("parameters") or {"type": "object", "properties": {}},
        )
        for tool in assistant.tools
    )
    return AssistantSpec(
        name=assistant.name,
        instructions=assistant.instructions,
        provider=assistant.provider,
        model=assistant.model,
        voice=assistant.voice,
        language_code=assistant.language_code,
        greeting=assistant.greeting,
        tools=tools,
        turn_detection=TurnDetection(**assistant.turn_detection),
        temperature=assistant.temperature,
    )


def session_spec(
    assistant: Assistant, session: Session, extra_tools: tuple[ToolSpec, ...] = ()
) -> AssistantSpec:
    """The assistant as this session runs it: its overrides applied, the session's language
    (so every provider speaks and transcribes it, en-US included), and the door's built-in
    tools first."""
    spec = apply_overrides(assistant_spec(assistant), overrides_of(session))
    return dataclasses.replace(
        spec, language_code=session.language_code, tools=extra_tools + spec.tools
    )


def overrides_of(session: Session) -> SessionOverrides:
    return SessionOverrides.from_json(session.overrides)


def plan_mode(session: Session) -> SessionMode:
    return "chat" if session.mode == "chat" else "voice"
